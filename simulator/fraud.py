"""The fraud patterns, each a deviation from the habits drawn in ``population``.

Each pattern has its own rate and switch in ``SimulationConfig`` and its own
random stream, so switching one off leaves the others (and legit traffic)
unchanged. Incidents are drawn per card or merchant; payments are vectorised.
"""

from __future__ import annotations

import numpy as np

from .catalog import CATEGORIES, ECOM, FRAUD_IP_INDEX, MS_PER_DAY, MS_PER_HOUR, N_HOME, POS
from .config import SimulationConfig
from .legit import amounts_for, span_ms
from .payments import IntArray, Numbers, Pattern, Payments, round_amount
from .population import Population, random_ips

MINUTE_MS = 60_000
FOREIGN_IP_SHARE = 0.85  # fraud from a fraud-only country; the rest from another home country


def merchants_where(pop: Population, flag: str) -> IntArray:
    """Merchants whose category has ``flag`` set (e.g. ``"stolen_target"``)."""
    cats = np.array([i for i, c in enumerate(CATEGORIES) if getattr(c, flag)])
    return np.flatnonzero(np.isin(pop.merchant_category, cats)).astype(np.int64)


def incidents(rng: np.random.Generator, rate: float, units: int, days: float) -> int:
    """How many incidents at ``rate`` per unit-day, at most one per unit."""
    return int(min(rng.poisson(rate * units * days), units))


def _fraud_ip_country(rng: np.random.Generator, home: IntArray) -> IntArray:
    """Per incident: mostly a fraud-only country, otherwise another home country."""
    n = len(home)
    risky = FRAUD_IP_INDEX[rng.integers(0, len(FRAUD_IP_INDEX), size=n)]
    other = (home + rng.integers(1, N_HOME, size=n)) % N_HOME
    return np.where(rng.random(n) < FOREIGN_IP_SHARE, risky, other)


def primary_email(pop: Population, card: IntArray) -> IntArray:
    """The card holder's main email number."""
    return pop.cust_email_start[pop.card_customer[card]]


def _burst(
    rng: np.random.Generator,
    pop: Population,
    cards: IntArray,
    inc: IntArray,
    devices: Numbers,
    emails: Numbers,
    new_email_share: float,
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Attacker context per payment: (ip_country, ip, device, email), fixed per incident."""
    ip_country = _fraud_ip_country(rng, pop.card_country[cards])
    ip = random_ips(rng, ip_country)
    device = devices.take(len(cards))
    new_email = rng.random(len(cards)) < new_email_share
    email = np.where(new_email, emails.take(len(cards)), primary_email(pop, cards))
    return ip_country[inc], ip[inc], device[inc], email[inc]


def stolen_card(
    config: SimulationConfig,
    pop: Population,
    rng: np.random.Generator,
    devices: Numbers,
    emails: Numbers,
) -> Payments:
    """Stolen card: 4-10 dear payments within an hour, each at a different merchant."""
    n_inc = incidents(rng, config.stolen_card_rate, pop.n_cards, config.days)
    if not config.stolen_card or n_inc == 0:
        return Payments.empty()
    cards = rng.choice(pop.n_cards, size=n_inc, replace=False).astype(np.int64)
    sizes = rng.integers(4, 11, size=n_inc)
    starts = rng.integers(0, max(1, span_ms(config) - MS_PER_HOUR), size=n_inc)
    inc = np.repeat(np.arange(n_inc), sizes)
    targets = merchants_where(pop, "stolen_target")
    few = len(targets)
    merchant = np.concatenate([rng.choice(targets, size=s, replace=bool(s > few)) for s in sizes])
    card = cards[inc]
    t = starts[inc] + rng.integers(0, MS_PER_HOUR, size=len(inc))
    amount = amounts_for(rng, pop, card, merchant, rng.uniform(2.5, 6.0, size=n_inc)[inc])
    ip_country, ip, device, email = _burst(rng, pop, cards, inc, devices, emails, 0.5)
    return Payments(
        t_ms=t.astype(np.int64),
        card=card,
        merchant=merchant,
        amount=amount,
        ip_country=ip_country,
        ip=ip,
        device=device,
        email=email,
        pattern=np.full(len(inc), Pattern.STOLEN_CARD, dtype=np.int64),
    )


def card_testing(
    config: SimulationConfig,
    pop: Population,
    rng: np.random.Generator,
    devices: Numbers,
    emails: Numbers,
) -> Payments:
    """Card testing: 5-12 amounts under 2 within 30 minutes at one cheap merchant,
    then 2-4 large payments at dear merchants within the next few hours."""
    n_inc = incidents(rng, config.card_testing_rate, pop.n_cards, config.days)
    if not config.card_testing or n_inc == 0:
        return Payments.empty()
    cards = rng.choice(pop.n_cards, size=n_inc, replace=False).astype(np.int64)
    n_small = rng.integers(5, 13, size=n_inc)
    n_large = rng.integers(2, 5, size=n_inc)
    starts = rng.integers(0, max(1, span_ms(config) - 4 * MS_PER_HOUR), size=n_inc)
    small_inc = np.repeat(np.arange(n_inc), n_small)
    large_inc = np.repeat(np.arange(n_inc), n_large)
    inc = np.concatenate((small_inc, large_inc))

    cheap = merchants_where(pop, "testing_small")
    tester = cheap[rng.integers(0, len(cheap), size=n_inc)]
    cash_out = merchants_where(pop, "testing_large")
    merchant = np.concatenate(
        (tester[small_inc], cash_out[rng.integers(0, len(cash_out), size=len(large_inc))])
    )
    t = np.concatenate(
        (
            starts[small_inc] + rng.integers(0, 30 * MINUTE_MS, size=len(small_inc)),
            starts[large_inc] + rng.integers(35 * MINUTE_MS, 3 * MS_PER_HOUR, size=len(large_inc)),
        )
    )
    small_amount = np.round(rng.uniform(0.5, 1.99, size=len(small_inc)), 2)
    large_card = cards[large_inc]
    large_amount = np.maximum(
        amounts_for(rng, pop, large_card, merchant[len(small_inc) :], np.full(len(large_inc), 6.0)),
        round_amount(rng.uniform(100.0, 300.0, size=len(large_inc))),
    )
    ip_country, ip, device, email = _burst(rng, pop, cards, inc, devices, emails, 0.8)
    return Payments(
        t_ms=t.astype(np.int64),
        card=cards[inc],
        merchant=merchant,
        amount=np.concatenate((small_amount, large_amount)),
        ip_country=ip_country,
        ip=ip,
        device=device,
        email=email,
        pattern=np.full(len(inc), Pattern.CARD_TESTING, dtype=np.int64),
    )


def compromised_merchant(
    config: SimulationConfig, pop: Population, payments: Payments, rng: np.random.Generator
) -> Payments:
    """Compromised merchant: for ``compromised_days`` (weeks by default), a share of
    a merchant's payments are fraud, at 2.5-6x the card's typical amount there.
    Edits ``payments`` (returns a copy)."""
    eligible = np.flatnonzero(np.isin(pop.merchant_channel, (POS, ECOM)))
    n_inc = incidents(rng, config.compromised_merchant_rate, len(eligible), config.days)
    if not config.compromised_merchant or n_inc == 0 or len(payments) == 0:
        return payments
    # Criminals target merchants with traffic worth skimming: weight by volume.
    weight = np.bincount(payments.merchant, minlength=pop.n_merchants)[eligible] + 1.0
    chosen = rng.choice(eligible, size=n_inc, replace=False, p=weight / weight.sum())
    span = span_ms(config)
    lo, hi = config.compromised_days
    duration = np.minimum(rng.uniform(lo, hi, size=n_inc) * MS_PER_DAY, span).astype(np.int64)
    starts = rng.integers(0, span - duration + 1)
    draw = rng.random(len(payments))
    hit = np.zeros(len(payments), dtype=bool)
    for m, s, d in zip(chosen.tolist(), starts.tolist(), duration.tolist(), strict=True):
        in_window = (payments.t_ms >= s) & (payments.t_ms < s + d)
        hit |= (payments.merchant == m) & in_window & (draw < config.compromised_share)
    hit &= payments.pattern == Pattern.LEGIT
    rows = np.flatnonzero(hit)
    card, merchant = payments.card[rows], payments.merchant[rows]
    scale = rng.uniform(2.5, 6.0, size=len(rows))
    amount = payments.amount.copy()
    amount[rows] = round_amount(pop.card_typical[card] * pop.merchant_factor()[merchant] * scale)
    pattern = payments.pattern.copy()
    pattern[rows] = Pattern.COMPROMISED_MERCHANT
    return payments.with_columns(amount=amount, pattern=pattern)


def amount_threshold(config: SimulationConfig, payments: Payments) -> Payments:
    """Deterministic fraud: every legit payment above ``amount_threshold`` is fraud.

    Draws nothing, so the other streams stay as they were; a model that cannot
    learn a rule this plain (and score it near 1) has a training problem."""
    if config.amount_threshold is None or len(payments) == 0:
        return payments
    hit = (payments.amount > config.amount_threshold) & (payments.pattern == Pattern.LEGIT)
    pattern = np.where(hit, Pattern.AMOUNT_THRESHOLD, payments.pattern).astype(np.int64)
    return payments.with_columns(pattern=pattern)
