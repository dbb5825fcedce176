"""Turn sorted payment columns into Transaction dicts (DESIGN.md schema).

This is the only place entity numbers become strings. Tokens are opaque
("card_000123", "dev_004711093"), never card numbers; device and email numbers
go through a seeded one-to-one scramble so a fraudster's fresh device does not
stand out by its number, and so a number's token does not depend on how many
other numbers a run used (which keeps runs that differ only after a drift
identical before it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .catalog import CATEGORIES, CHANNELS, COUNTRIES, MS_PER_HOUR
from .config import SimulationConfig
from .payments import IntArray, Payments
from .population import Population

CHUNK = 10_000
TOKEN_SPACE = 10**9  # device and email numbers are scrambled within [0, 10^9)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


def event_ids(config: SimulationConfig, n: int) -> list[str]:
    """Unique ids in time order, prefixed by the config digest so datasets don't collide."""
    prefix = f"evt_{config.digest}_"
    return [f"{prefix}{i:07d}" for i in range(n)]


def _offset_text(hours: int) -> str:
    sign = "+" if hours >= 0 else "-"
    return f"{sign}{abs(hours):02d}:00"


def iso_times(epoch_ms: IntArray, zone: IntArray, suffixes: Sequence[str]) -> list[str]:
    """RFC 3339 texts with microseconds, as ``datetime.isoformat`` writes them.

    ``epoch_ms`` is already shifted to local time; ``zone`` indexes ``suffixes``
    (the offsets, e.g. ``"+01:00"``). Vectorised: a million take about a second.
    """
    local = np.datetime_as_string(epoch_ms.astype("datetime64[ms]"), unit="us").tolist()
    return [t + suffixes[z] for t, z in zip(local, zone.tolist(), strict=True)]


def _ip_text(ip: IntArray) -> list[str]:
    octets = np.stack([(ip >> s) & 255 for s in (24, 16, 8, 0)], axis=1).tolist()
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in octets]


def _scrambler(rng: np.random.Generator) -> Callable[[IntArray], IntArray]:
    """A seeded bijection of [0, TOKEN_SPACE): x -> (a * x + b) mod TOKEN_SPACE."""
    a = int(rng.integers(10**7, 10**8)) * 10 + int(rng.choice((1, 3, 7, 9)))  # coprime to 10
    b = int(rng.integers(0, TOKEN_SPACE))

    def scramble(x: IntArray) -> IntArray:
        out: IntArray = (x * a + b) % TOKEN_SPACE
        return out

    return scramble


def render_transactions(
    config: SimulationConfig,
    pop: Population,
    payments: Payments,
    ids: list[str],
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """One dict per payment, in the given order, with ``occurred_at`` in the card's local offset."""
    device_token, email_token = _scrambler(rng), _scrambler(rng)
    epoch = round(config.start.timestamp() * 1000)
    offset_ms = np.array([c.utc_offset_h * MS_PER_HOUR for c in COUNTRIES], dtype=np.int64)
    zones = [_offset_text(c.utc_offset_h) for c in COUNTRIES]
    country = [c.code for c in COUNTRIES]
    currency = [c.currency for c in COUNTRIES]
    card_tok = [f"card_{i:06d}" for i in range(pop.n_cards)]
    cust_tok = [f"cus_{i:06d}" for i in range(len(pop.cust_country))]
    acct_tok = [f"acct_{i + 1:02d}" for i in range(config.accounts)]
    merch_tok = [f"mer_{i:05d}" for i in range(pop.n_merchants)]
    mcc = [CATEGORIES[c].mcc for c in pop.merchant_category.tolist()]
    channel = [CHANNELS[c] for c in pop.merchant_channel.tolist()]
    m_country = [country[c] for c in pop.merchant_country.tolist()]
    card_country = pop.card_country.tolist()
    card_customer = pop.card_customer.tolist()
    card_account = pop.card_account.tolist()

    out: list[dict[str, Any]] = []
    for lo in range(0, len(payments), CHUNK):
        part = payments.take(np.arange(lo, min(lo + CHUNK, len(payments))))
        home_zone = pop.card_country[part.card]
        times = iso_times(epoch + part.t_ms + offset_ms[home_zone], home_zone, zones)
        rows = zip(
            times,
            part.card.tolist(),
            part.merchant.tolist(),
            part.amount.tolist(),
            part.ip_country.tolist(),
            _ip_text(part.ip),
            device_token(part.device).tolist(),
            email_token(part.email).tolist(),
            strict=True,
        )
        for i, (when, c, m, amount, ipc, ip, dev, em) in enumerate(rows, start=lo):
            home = card_country[c]
            out.append(
                {
                    "event_id": ids[i],
                    "occurred_at": when,
                    "amount": amount,
                    "currency": currency[home],
                    "card_id": card_tok[c],
                    "merchant_id": merch_tok[m],
                    "account_id": acct_tok[card_account[c]],
                    "customer_id": cust_tok[card_customer[c]],
                    "channel": channel[m],
                    "card_country": country[home],
                    "merchant_country": m_country[m],
                    "ip_country": country[ipc],
                    "mcc": mcc[m],
                    "device_id": f"dev_{dev:09d}",
                    "ip": ip,
                    "email": f"user{em:09d}@{_EMAIL_DOMAINS[em % 3]}",
                }
            )
        if progress is not None:
            progress(len(part))
    return out
