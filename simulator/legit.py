"""Legitimate traffic: each card pays at its own pace, mostly by day, mostly at home.

The habits drawn here (usual merchants, devices, home IP, a daily and weekly
rhythm in the card's local time, shifted by the card's usual hours) are the
baseline every fraud pattern deviates from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalog import (
    ATM,
    COUNTRIES,
    DAY_RHYTHM,
    ECOM,
    MS_PER_DAY,
    MS_PER_HOUR,
    N_HOME,
    P2P,
    POS,
    WEEK_RHYTHM,
)
from .config import SimulationConfig
from .payments import FloatArray, IntArray, Pattern, Payments, round_amount
from .population import Population, random_ips

HOME_IP_SHARE = 0.75  # payments from the customer's home address
VPN_SHARE = 0.03  # remote payments from another (home) country's IP
# Mean of the combined day x week thinning weight, to keep the expected counts.
_KEEP_MEAN = float(DAY_RHYTHM.mean() * WEEK_RHYTHM.mean())
_OFFSET_MS = np.array([c.utc_offset_h * MS_PER_HOUR for c in COUNTRIES], dtype=np.int64)


def span_ms(config: SimulationConfig) -> int:
    """Length of the simulated window in milliseconds."""
    return round(config.days * MS_PER_DAY)


def epoch_ms(config: SimulationConfig) -> int:
    """``config.start`` in Unix milliseconds."""
    return round(config.start.timestamp() * 1000)


@dataclass(frozen=True)
class Habits:
    """How a stretch of legit traffic chooses merchants and amounts."""

    usual_share: float = 0.85  # payments at one of the card's usual merchants
    travel_share: float = 0.2  # roaming in-person payments abroad that are kept
    remote_boost: float = 1.0  # popularity multiplier of ecom/p2p merchants when roaming
    amount_scale: float = 1.0  # multiplies every amount


EVERYDAY = Habits()


def local_hour(config: SimulationConfig, t_ms: IntArray, country: IntArray) -> IntArray:
    """Hour of day (0-23) at ``t_ms`` in each country's local time."""
    local = epoch_ms(config) + t_ms + _OFFSET_MS[country]
    return (local // MS_PER_HOUR) % 24


def local_weekday(config: SimulationConfig, t_ms: IntArray, country: IntArray) -> IntArray:
    """Day of week (Monday 0 .. Sunday 6) at ``t_ms`` in each country's local time."""
    local = epoch_ms(config) + t_ms + _OFFSET_MS[country]
    return (local // MS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday


def pick_slots(rng: np.random.Generator, count: IntArray, p: list[float]) -> IntArray:
    """A slot per row, favouring slot 0, never beyond the row's ``count``."""
    slot = rng.choice(len(p), size=len(count), p=p)
    return np.minimum(slot, count - 1).astype(np.int64)


def amounts_for(
    rng: np.random.Generator, pop: Population, card: IntArray, merchant: IntArray, scale: FloatArray
) -> FloatArray:
    """Amounts around the card's typical spend at this kind of merchant, times ``scale``.

    ATM withdrawals come in multiples of 20, as real cash does.
    """
    raw = pop.card_typical[card] * pop.merchant_factor()[merchant] * scale
    raw = raw * rng.lognormal(0.0, 0.45, size=len(card))
    atm = pop.merchant_channel[merchant] == ATM
    raw = np.where(atm, np.maximum(20.0, np.round(raw / 20.0) * 20.0), raw)
    return round_amount(np.clip(raw, 1.0, 20_000.0))


def legit_payments(
    config: SimulationConfig,
    pop: Population,
    rng: np.random.Generator,
    window: tuple[int, int] | None = None,
    volume: float = 1.0,
    habits: Habits = EVERYDAY,
) -> Payments:
    """Legit payments in ``window`` (ms since start; default the whole run), unsorted.

    Times follow the daily and weekly rhythm by thinning: candidate times are
    uniform, and each is kept with the rhythm's weight at the card's local hour
    (shifted by its usual hours) and weekday, so the expected count per card is
    about ``card_freq * volume`` per day.
    """
    lo, hi = (0, span_ms(config)) if window is None else window
    expected = pop.card_freq * volume * ((hi - lo) / MS_PER_DAY) / _KEEP_MEAN
    card = np.repeat(np.arange(pop.n_cards, dtype=np.int64), rng.poisson(expected))
    t = rng.integers(lo, max(lo + 1, hi), size=len(card), dtype=np.int64)
    country = pop.card_country[card]
    hour = (local_hour(config, t, country) - pop.card_hour_shift[card]) % 24
    weight = DAY_RHYTHM[hour] * WEEK_RHYTHM[local_weekday(config, t, country)]
    keep = rng.random(len(card)) < weight
    card, t = card[keep], t[keep]
    n = len(card)

    # Merchant: mostly a usual one (favourites first), sometimes anywhere popular.
    k = pop.card_usual.shape[1]
    slot = (pop.card_usual_cum[card] < rng.random(n)[:, None]).sum(axis=1)
    slot = np.minimum(slot, k - 1)
    remote = np.isin(pop.merchant_channel, (ECOM, P2P))
    popular = pop.merchant_popularity * np.where(remote, habits.remote_boost, 1.0)
    roam = rng.choice(pop.n_merchants, size=n, p=popular / popular.sum())
    usual = pop.card_usual[card, slot]
    # Paying in person abroad means travelling, which most payments are not.
    abroad = np.isin(pop.merchant_channel[roam], (POS, ATM)) & (
        pop.merchant_country[roam] != pop.card_country[card]
    )
    roam_ok = ~abroad | (rng.random(n) < habits.travel_share)
    merchant = np.where((rng.random(n) < habits.usual_share) | ~roam_ok, usual, roam)
    amount = amounts_for(rng, pop, card, merchant, np.full(n, habits.amount_scale))

    # Where the payer is: at home, or where the shop is when paying in person abroad.
    home = pop.card_country[card]
    m_country = pop.merchant_country[merchant]
    in_person = np.isin(pop.merchant_channel[merchant], (POS, ATM))
    vpn = (~in_person) & (rng.random(n) < VPN_SHARE)
    other_home = (home + rng.integers(1, N_HOME, size=n)) % N_HOME
    ip_country = np.where(in_person, m_country, np.where(vpn, other_home, home))
    customer = pop.card_customer[card]
    at_home = (ip_country == home) & (rng.random(n) < HOME_IP_SHARE)
    ip = np.where(at_home, pop.cust_ip[customer], random_ips(rng, ip_country))

    device_slot = pick_slots(rng, pop.cust_dev_count[customer], [0.8, 0.15, 0.05])
    email_slot = pick_slots(rng, pop.cust_email_count[customer], [0.9, 0.1])
    device = pop.cust_dev_start[customer] + device_slot
    email = pop.cust_email_start[customer] + email_slot
    return Payments(
        t_ms=t,
        card=card,
        merchant=merchant.astype(np.int64),
        amount=amount,
        ip_country=ip_country.astype(np.int64),
        ip=ip.astype(np.int64),
        device=device,
        email=email,
        pattern=np.full(n, Pattern.LEGIT, dtype=np.int64),
    )
