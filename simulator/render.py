"""Turn sorted payment columns into Transaction dicts (DESIGN.md schema).

This is the only place entity numbers become strings. Tokens are opaque
("card_000123", "dev_0004711"), never card numbers; device and email numbers
are shuffled so a fraudster's fresh device does not stand out by its number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta, timezone
from typing import Any

import numpy as np

from .catalog import CATEGORIES, CHANNELS, COUNTRIES
from .config import SimulationConfig
from .payments import IntArray, Payments
from .population import Population

CHUNK = 10_000
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


def event_ids(config: SimulationConfig, n: int) -> list[str]:
    """Unique ids in time order, prefixed by the config digest so datasets don't collide."""
    prefix = f"evt_{config.digest}_"
    return [f"{prefix}{i:07d}" for i in range(n)]


def _ip_text(ip: IntArray) -> list[str]:
    octets = np.stack([(ip >> s) & 255 for s in (24, 16, 8, 0)], axis=1).tolist()
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in octets]


def render_transactions(
    config: SimulationConfig,
    pop: Population,
    payments: Payments,
    ids: list[str],
    n_devices: int,
    n_emails: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """One dict per payment, in the given order, with ``occurred_at`` in the card's local offset."""
    device_perm = rng.permutation(n_devices)
    email_perm = rng.permutation(n_emails)
    start = config.start.astimezone(UTC)
    zones = [timezone(timedelta(hours=c.utc_offset_h)) for c in COUNTRIES]
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
        ips = _ip_text(part.ip)
        devices = device_perm[part.device].tolist()
        emails = email_perm[part.email].tolist()
        rows = zip(
            part.t_ms.tolist(),
            part.card.tolist(),
            part.merchant.tolist(),
            part.amount.tolist(),
            part.ip_country.tolist(),
            ips,
            devices,
            emails,
            strict=True,
        )
        for i, (t, c, m, amount, ipc, ip, dev, em) in enumerate(rows, start=lo):
            home = card_country[c]
            when = (start + timedelta(milliseconds=t)).astimezone(zones[home])
            out.append(
                {
                    "event_id": ids[i],
                    "occurred_at": when.isoformat(timespec="microseconds"),
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
                    "device_id": f"dev_{dev:07d}",
                    "ip": ip,
                    "email": f"user{em:07d}@{_EMAIL_DOMAINS[em % 3]}",
                }
            )
        if progress is not None:
            progress(len(part))
    return out
