"""Drift scenarios: the world changes at ``config.drift_day`` and not before.

Every scenario only adds payments after the drift or edits payments that
happen after it, with a random stream of its own, so every event before the
drift is exactly what the same config without drift gives. That is what lets
a model be trained on the "before" and judged on the "after" of one dataset.
See ``SimulationConfig`` for what each scenario does.
"""

from __future__ import annotations

import numpy as np

from .catalog import ATM, FRAUD_IP_INDEX, IP_OCTETS, MS_PER_DAY, SHIFTED_IP_INDEX
from .config import SimulationConfig
from .fraud import merchants_where
from .legit import Habits, legit_payments, span_ms
from .payments import Pattern, Payments, round_amount
from .population import Population

#: What legit cards do on holiday: shop around more, online and abroad, and spend more.
HOLIDAY = Habits(usual_share=0.5, travel_share=0.6, remote_boost=3.0, amount_scale=1.3)
HOLIDAY_EXTRA_VOLUME = 0.6  # extra legit payments per usual one
HOLIDAY_SPEND = 1.3  # median factor on the amounts of the usual payments
# Patterns whose merchants and IP countries move in a fraud shift (card-not-present).
SHIFTING = (Pattern.STOLEN_CARD, Pattern.CARD_TESTING, Pattern.ACCOUNT_TAKEOVER)


def drift_ms(config: SimulationConfig) -> int | None:
    """The drift's time in ms since ``config.start``, or None without drift."""
    if config.drift is None or config.drift_day is None:
        return None
    return round(config.drift_day * MS_PER_DAY)


def pattern_plan(config: SimulationConfig, name: str) -> tuple[float, tuple[int, int]] | None:
    """(rate, window) of a windowed pattern, ``None`` if it does not run.

    A pattern that a ``new_pattern`` drift introduces runs only after the drift,
    at ``new_pattern_rate``, whatever its own switch says.
    """
    span = span_ms(config)
    at = drift_ms(config)
    if config.drift == "new_pattern" and config.new_pattern == name and at is not None:
        return config.new_pattern_rate, (at, span)
    if not getattr(config, name):
        return None
    rate: float = getattr(config, f"{name}_rate")
    return rate, (0, span)


def shift_fraud(
    config: SimulationConfig, pop: Population, payments: Payments, rng: np.random.Generator
) -> Payments:
    """After the drift, card-not-present fraud moves to shift-target merchants
    and its foreign fraud IPs to countries never seen before.

    Merchants map one-to-one per run (the same original merchant always goes to
    the same new one), so a burst over many merchants stays spread out, and
    IPs keep their host part, so an incident keeps one address.
    """
    at = drift_ms(config)
    if at is None or len(payments) == 0:
        return payments
    targets = merchants_where(pop, "shift_target")
    mapping = targets[rng.integers(0, len(targets), size=pop.n_merchants)]
    after = (payments.t_ms >= at) & np.isin(payments.pattern, SHIFTING)
    merchant = np.where(after, mapping[payments.merchant], payments.merchant)
    foreign = after & np.isin(payments.ip_country, FRAUD_IP_INDEX)
    moved = SHIFTED_IP_INDEX[(payments.ip_country - FRAUD_IP_INDEX[0]) % len(SHIFTED_IP_INDEX)]
    ip_country = np.where(foreign, moved, payments.ip_country)
    octet = IP_OCTETS[ip_country, payments.ip & 1]
    ip = np.where(foreign, (octet << 24) | (payments.ip & 0xFFFFFF), payments.ip)
    return payments.with_columns(merchant=merchant, ip_country=ip_country, ip=ip)


def holiday(
    config: SimulationConfig, pop: Population, payments: Payments, rng: np.random.Generator
) -> Payments:
    """After the drift, legit payments are dearer and more numerous; returns
    ``payments`` edited, plus the extra holiday payments (unsorted)."""
    at = drift_ms(config)
    if at is None:
        return payments
    factor = rng.lognormal(np.log(HOLIDAY_SPEND), 0.15, size=len(payments))
    extra = legit_payments(
        config, pop, rng, window=(at, span_ms(config)), volume=HOLIDAY_EXTRA_VOLUME, habits=HOLIDAY
    )
    bump = (payments.t_ms >= at) & (payments.pattern == Pattern.LEGIT)
    raw = payments.amount * np.where(bump, factor, 1.0)
    atm = pop.merchant_channel[payments.merchant] == ATM
    raw = np.where(bump & atm, np.maximum(20.0, np.round(raw / 20.0) * 20.0), raw)
    amount = np.where(bump, round_amount(np.clip(raw, 0.01, 20_000.0)), payments.amount)
    return Payments.concat([payments.with_columns(amount=amount), extra])
