"""Fraud that breaks the card's own profile: account takeover and cross-border use.

Unlike a stolen-card burst, neither pattern is fast or spread over many
merchants; what gives them away is a card acting unlike itself: a device and
email it never used, amounts far above its history, or in-person payments in a
country it never goes to. Both take a time window, so a drift can switch them
on part-way through a run (see ``drift``).
"""

from __future__ import annotations

import numpy as np

from .catalog import ATM, CATEGORIES, ECOM, MS_PER_DAY, MS_PER_HOUR, N_HOME, P2P, POS
from .fraud import incidents, primary_email
from .legit import amounts_for
from .payments import IntArray, Numbers, Pattern, Payments, round_amount
from .population import Population, random_ips

TAKEOVER_SPAN_MS = 2 * MS_PER_DAY  # the attacker cashes out within two days
TAKEOVER_NEW_EMAIL = 0.8  # share of takeovers that change the account's email
TRIP_SPAN_MS = 12 * MS_PER_HOUR  # a cloned card is spent abroad within hours


def _window_days(window: tuple[int, int]) -> float:
    return max(0.0, (window[1] - window[0]) / MS_PER_DAY)


def _dear_remote_merchants(pop: Population) -> IntArray:
    """Merchants worth a takeover: resellable, card-not-present, dear categories."""
    cats = [
        i
        for i, c in enumerate(CATEGORIES)
        if c.stolen_target and c.channel in (ECOM, P2P) and c.amount_factor >= 1.5
    ]
    return np.flatnonzero(np.isin(pop.merchant_category, cats)).astype(np.int64)


def account_takeover(
    pop: Population,
    rng: np.random.Generator,
    devices: Numbers,
    emails: Numbers,
    rate: float,
    window: tuple[int, int],
) -> Payments:
    """Account takeover: 1-4 payments within two days of the takeover, from a new
    device, mostly with a new email, from a home-country IP (a residential
    proxy), at 8-20x the card's typical amount at dear card-not-present merchants."""
    n_inc = incidents(rng, rate, pop.n_cards, _window_days(window))
    if n_inc == 0:
        return Payments.empty()
    cards = rng.choice(pop.n_cards, size=n_inc, replace=False).astype(np.int64)
    sizes = rng.integers(1, 5, size=n_inc)
    starts = rng.integers(window[0], max(window[0] + 1, window[1]), size=n_inc)
    inc = np.repeat(np.arange(n_inc), sizes)
    card = cards[inc]
    t = starts[inc] + rng.integers(0, TAKEOVER_SPAN_MS, size=len(inc))
    dear = _dear_remote_merchants(pop)
    merchant = dear[rng.integers(0, len(dear), size=len(inc))]
    scale = rng.uniform(8.0, 20.0, size=len(inc))
    amount = round_amount(np.clip(pop.card_typical[card] * scale, 1.0, 20_000.0))
    home = pop.card_country[cards]
    ip = random_ips(rng, home)
    device = devices.take(n_inc)
    new_email = rng.random(n_inc) < TAKEOVER_NEW_EMAIL
    email = np.where(new_email, emails.take(n_inc), primary_email(pop, cards))
    return Payments(
        t_ms=t.astype(np.int64),
        card=card,
        merchant=merchant,
        amount=amount,
        ip_country=home[inc],
        ip=ip[inc],
        device=device[inc],
        email=email[inc],
        pattern=np.full(len(inc), Pattern.ACCOUNT_TAKEOVER, dtype=np.int64),
    )


def cross_border(
    pop: Population,
    rng: np.random.Generator,
    devices: Numbers,
    rate: float,
    window: tuple[int, int],
) -> Payments:
    """Cross-border: a cloned card paid in person 2-6 times within 12 hours in a
    foreign country (shops and ATMs there), at 2-5x its typical amounts."""
    n_inc = incidents(rng, rate, pop.n_cards, _window_days(window))
    in_person = np.flatnonzero(np.isin(pop.merchant_channel, (POS, ATM)))
    if n_inc == 0 or len(in_person) == 0:
        return Payments.empty()
    cards = rng.choice(pop.n_cards, size=n_inc, replace=False).astype(np.int64)
    sizes = rng.integers(2, 7, size=n_inc)
    starts = rng.integers(window[0], max(window[0] + 1, window[1]), size=n_inc)
    scale = rng.uniform(2.0, 5.0, size=n_inc)
    # Destination: a foreign country with shops, busier countries more likely.
    by_country = in_person[np.argsort(pop.merchant_country[in_person], kind="stable")]
    count = np.bincount(pop.merchant_country[in_person], minlength=N_HOME)[:N_HOME]
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    home = pop.card_country[cards]
    weight = np.where(np.arange(N_HOME)[None, :] == home[:, None], 0, count[None, :])
    cum = np.cumsum(weight, axis=1).astype(np.float64)
    u = rng.random(n_inc) * cum[:, -1]
    dest = np.minimum((cum <= u[:, None]).sum(axis=1), N_HOME - 1)
    ip = random_ips(rng, dest)
    device = devices.take(n_inc)
    # Incidents with nowhere foreign to go are dropped (after all draws, for stability).
    inc = np.repeat(np.arange(n_inc), sizes)
    pick = (rng.random(len(inc)) * count[dest[inc]]).astype(np.int64)
    merchant = by_country[np.minimum(first[dest[inc]] + pick, len(by_country) - 1)]
    card = cards[inc]
    t = starts[inc] + rng.integers(0, TRIP_SPAN_MS, size=len(inc))
    amount = amounts_for(rng, pop, card, merchant, scale[inc])
    keep = np.flatnonzero(cum[inc, -1] > 0)
    return Payments(
        t_ms=t.astype(np.int64),
        card=card,
        merchant=merchant.astype(np.int64),
        amount=amount,
        ip_country=dest[inc],
        ip=ip[inc],
        device=device[inc],
        email=primary_email(pop, cards)[inc],
        pattern=np.full(len(inc), Pattern.CROSS_BORDER, dtype=np.int64),
    ).take(keep)
