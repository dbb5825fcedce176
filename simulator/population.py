"""Who pays and where: customers, their cards, and merchants, as column arrays.

Every per-entity trait a generator needs (home country, typical amount, usual
devices and merchants) is drawn once here, so legit traffic and fraud patterns
agree on what "normal for this card" means; that agreement is what makes the
fraud detectable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .catalog import CATEGORIES, COUNTRIES, ECOM, HOME_COUNTRIES, P2P
from .config import SimulationConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

USUAL_MERCHANTS = 12
CARDS_PER_CUSTOMER = 1.25
_IP_PREFIX = np.array([c.ip_octets for c in COUNTRIES], dtype=np.int64)


@dataclass(frozen=True)
class Population:
    """Column arrays of customers, cards and merchants; index = entity number."""

    # Customers.
    cust_country: IntArray  # index into catalog.COUNTRIES
    cust_account: IntArray
    cust_ip: IntArray  # home IPv4 address as an integer
    cust_dev_start: IntArray  # devices of customer u: start[u] .. start[u] + count[u] - 1
    cust_dev_count: IntArray
    cust_email_start: IntArray
    cust_email_count: IntArray
    # Cards.
    card_customer: IntArray
    card_country: IntArray
    card_account: IntArray
    card_typical: FloatArray  # typical amount, in the card's currency
    card_freq: FloatArray  # mean legit payments per day
    card_usual: IntArray  # (cards, K) usual merchants, favourite first
    card_usual_cum: FloatArray  # (cards, K) cumulative odds of paying at each
    card_hour_shift: IntArray  # hours the card's day runs late (+) or early (-)
    # Merchants.
    merchant_category: IntArray  # index into catalog.CATEGORIES
    merchant_channel: IntArray  # index into catalog.CHANNELS
    merchant_country: IntArray
    merchant_popularity: FloatArray
    # How many device and email numbers the population uses (fraud adds more).
    n_devices: int
    n_emails: int

    @property
    def n_cards(self) -> int:
        return len(self.card_customer)

    @property
    def n_merchants(self) -> int:
        return len(self.merchant_category)

    def merchant_factor(self) -> FloatArray:
        """Amount multiplier of each merchant's category."""
        factors = np.array([c.amount_factor for c in CATEGORIES])
        return factors[self.merchant_category]


def random_ips(rng: np.random.Generator, country: IntArray) -> IntArray:
    """Random IPv4 addresses (as integers) inside the given countries' blocks."""
    n = len(country)
    first = _IP_PREFIX[country, rng.integers(0, 2, size=n)]
    rest = rng.integers(0, 256, size=(n, 2))
    last = rng.integers(1, 255, size=n)
    return (first << 24) | (rest[:, 0] << 16) | (rest[:, 1] << 8) | last


def _ranges(rng: np.random.Generator, n: int, p: list[float]) -> tuple[IntArray, IntArray]:
    """Give each of n owners 1..len(p) consecutive numbers; returns (start, count)."""
    count = rng.choice(np.arange(1, len(p) + 1), size=n, p=p).astype(np.int64)
    start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64)
    return start, count


def _usual_merchants(
    rng: np.random.Generator,
    card_country: IntArray,
    ecom_affinity: FloatArray,
    merchant_channel: IntArray,
    merchant_country: IntArray,
    popularity: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """Each card's K usual merchants (favourite first) and the cumulative odds of each.

    Merchants are popular ones, domestic for in-person payments. Sampling without
    replacement with row-specific weights uses the Gumbel top-k trick, which
    vectorises over cards (chunked to bound memory). The odds keep the weights,
    so a foreign shop picked only to fill the list is rarely visited.
    """
    n_cards, n_merch = len(card_country), len(merchant_channel)
    k = min(USUAL_MERCHANTS, n_merch)
    remote = (merchant_channel == ECOM) | (merchant_channel == P2P)
    out = np.empty((n_cards, k), dtype=np.int64)
    cum = np.empty((n_cards, k), dtype=np.float64)
    for lo in range(0, n_cards, 4096):
        hi = min(lo + 4096, n_cards)
        domestic = merchant_country[None, :] == card_country[lo:hi, None]
        aff = ecom_affinity[lo:hi, None]
        # Within each group, popular (and domestic) merchants win; the groups
        # themselves get the card's share of remote vs in-person payments.
        w = popularity[None, :] * np.where(
            remote[None, :], np.where(domestic, 3.0, 1.0), np.where(domestic, 1.0, 0.01)
        )
        w_remote = np.where(remote[None, :], w, 0.0)
        w_local = w - w_remote
        remote_total = w_remote.sum(axis=1, keepdims=True)
        local_total = np.maximum(w_local.sum(axis=1, keepdims=True), 1e-12)
        w = aff * w_remote / remote_total + (1.0 - aff) * w_local / local_total
        scores = np.log(w + 1e-12) + rng.gumbel(size=w.shape)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[lo:hi] = chosen = np.take_along_axis(top, order, axis=1)
        odds = np.take_along_axis(w, chosen, axis=1) + 1e-12
        cum[lo:hi] = np.cumsum(odds / odds.sum(axis=1, keepdims=True), axis=1)
    return out, cum


def build_population(config: SimulationConfig, rng: np.random.Generator) -> Population:
    """Draw customers, cards and merchants for ``config``."""
    home_w = np.array([c.weight for c in HOME_COUNTRIES])
    home_w /= home_w.sum()
    n_home = len(HOME_COUNTRIES)

    # Merchants: one of each category first, so every pattern has somewhere to go.
    n_m = config.merchants
    cat_w = np.array([c.weight for c in CATEGORIES])
    category = np.concatenate(
        (
            np.arange(len(CATEGORIES)),
            rng.choice(len(CATEGORIES), n_m - len(CATEGORIES), p=cat_w / cat_w.sum()),
        )
    ).astype(np.int64)
    channel = np.array([c.channel for c in CATEGORIES], dtype=np.int64)[category]
    m_country = rng.choice(n_home, size=n_m, p=home_w).astype(np.int64)
    visits = np.array([c.visits for c in CATEGORIES])[category]
    popularity = visits * rng.lognormal(0.0, 1.0, size=n_m)

    # Customers: a customer may hold several cards, which share country and devices.
    n_u = max(1, round(config.cards / CARDS_PER_CUSTOMER))
    n_u = min(n_u, config.cards)
    u_country = rng.choice(n_home, size=n_u, p=home_w).astype(np.int64)
    acc_w = 1.0 / np.arange(1, config.accounts + 1)  # a few big tenants, some small
    u_account = rng.choice(config.accounts, size=n_u, p=acc_w / acc_w.sum()).astype(np.int64)
    u_ip = random_ips(rng, u_country)
    dev_start, dev_count = _ranges(rng, n_u, [0.5, 0.35, 0.15])
    email_start, email_count = _ranges(rng, n_u, [0.75, 0.25])

    extra = rng.integers(0, n_u, size=config.cards - n_u)
    card_customer = rng.permutation(np.concatenate((np.arange(n_u), extra))).astype(np.int64)
    card_country = u_country[card_customer]
    n_c = config.cards
    # Lognormal typical amount (median ~27) and frequency (mean = the configured one).
    typical = rng.lognormal(np.log(27.0), 0.6, size=n_c)
    sigma = 0.6
    freq = config.payments_per_card_day * rng.lognormal(-sigma * sigma / 2, sigma, size=n_c)
    affinity = rng.beta(2.5, 2.5, size=n_c)
    usual, usual_cum = _usual_merchants(rng, card_country, affinity, channel, m_country, popularity)
    # Usual hours: early birds and night owls shift the day rhythm by a few hours.
    hour_shift = rng.choice(np.arange(-2, 4), size=n_c, p=[0.1, 0.2, 0.35, 0.2, 0.1, 0.05])

    return Population(
        cust_country=u_country,
        cust_account=u_account,
        cust_ip=u_ip,
        cust_dev_start=dev_start,
        cust_dev_count=dev_count,
        cust_email_start=email_start,
        cust_email_count=email_count,
        card_customer=card_customer,
        card_country=card_country,
        card_account=u_account[card_customer],
        card_typical=typical,
        card_freq=freq,
        card_usual=usual,
        card_usual_cum=usual_cum,
        card_hour_shift=hour_shift.astype(np.int64),
        merchant_category=category,
        merchant_channel=channel,
        merchant_country=m_country,
        merchant_popularity=popularity,
        n_devices=int(dev_count.sum()),
        n_emails=int(email_count.sum()),
    )
