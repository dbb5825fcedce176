"""Static reference data of the simulated world: countries, merchant categories, day rhythm.

Kept apart from the random draws so that a later, richer world (more countries,
seasonal rhythms) changes one table rather than the generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Country:
    """A country cards or merchants live in, or that a fraudster's IP comes from."""

    code: str
    currency: str
    utc_offset_h: int
    weight: float  # share of cards (0 for countries that only appear as fraud IPs)
    ip_octets: tuple[int, int]  # first octets of the (fictional) address blocks


# Home countries of cards and merchants. Offsets are standard time (January).
HOME_COUNTRIES: tuple[Country, ...] = (
    Country("US", "USD", -5, 0.30, (23, 24)),
    Country("GB", "GBP", 0, 0.12, (51, 81)),
    Country("DE", "EUR", 1, 0.12, (53, 84)),
    Country("FR", "EUR", 1, 0.10, (62, 90)),
    Country("ES", "EUR", 1, 0.07, (83, 88)),
    Country("IT", "EUR", 1, 0.07, (79, 93)),
    Country("NL", "EUR", 1, 0.05, (77, 94)),
    Country("IE", "EUR", 0, 0.03, (86, 87)),
    Country("CA", "CAD", -5, 0.06, (64, 99)),
    Country("AU", "AUD", 10, 0.05, (101, 110)),
    Country("CH", "CHF", 1, 0.03, (85, 92)),
)

# Countries that appear only as the IP origin of fraud.
FRAUD_IP_COUNTRIES: tuple[Country, ...] = (
    Country("RU", "RUB", 3, 0.0, (95, 178)),
    Country("NG", "NGN", 1, 0.0, (102, 105)),
    Country("VN", "VND", 7, 0.0, (113, 171)),
    Country("ID", "IDR", 7, 0.0, (103, 114)),
    Country("RO", "RON", 2, 0.0, (109, 188)),
    Country("BR", "BRL", -3, 0.0, (177, 179)),
    Country("UA", "UAH", 2, 0.0, (176, 193)),
    Country("PH", "PHP", 8, 0.0, (112, 120)),
)

# Where fraud moves after a "fraud_shift" drift: IP countries never seen before it.
SHIFTED_IP_COUNTRIES: tuple[Country, ...] = (
    Country("CN", "CNY", 8, 0.0, (36, 42)),
    Country("TR", "TRY", 3, 0.0, (185, 195)),
    Country("MX", "MXN", -6, 0.0, (187, 189)),
    Country("PK", "PKR", 5, 0.0, (39, 119)),
)

COUNTRIES: tuple[Country, ...] = HOME_COUNTRIES + FRAUD_IP_COUNTRIES + SHIFTED_IP_COUNTRIES
N_HOME = len(HOME_COUNTRIES)
# Indices into COUNTRIES of the fraud-only IP countries, before and after a fraud shift.
FRAUD_IP_INDEX: npt.NDArray[np.int64] = np.arange(N_HOME, N_HOME + len(FRAUD_IP_COUNTRIES), dtype=np.int64)
SHIFTED_IP_INDEX: npt.NDArray[np.int64] = np.arange(
    N_HOME + len(FRAUD_IP_COUNTRIES), len(COUNTRIES), dtype=np.int64
)
IP_OCTETS: npt.NDArray[np.int64] = np.array([c.ip_octets for c in COUNTRIES], dtype=np.int64)

CHANNELS: tuple[str, ...] = ("ecom", "pos", "atm", "p2p")
ECOM, POS, ATM, P2P = range(4)


@dataclass(frozen=True)
class Category:
    """A merchant category: its MCC, how it is paid, how common it is, how dear."""

    mcc: str
    channel: int
    weight: float  # share of merchants
    amount_factor: float  # multiplies the card's typical amount
    visits: float = 1.0  # how often a card pays at one such merchant, relatively
    # Where fraud goes: stolen cards buy resellable goods, testers use cheap
    # no-questions merchants, then cash out on dear ones.
    stolen_target: bool = False
    testing_small: bool = False
    testing_large: bool = False
    # Where card-not-present fraud moves after a "fraud_shift" drift.
    shift_target: bool = False


CATEGORIES: tuple[Category, ...] = (
    Category("5411", POS, 0.16, 1.0),  # grocery
    Category("5812", POS, 0.12, 0.9),  # restaurants
    Category("5814", POS, 0.07, 0.35),  # fast food
    Category("5541", POS, 0.06, 1.2),  # fuel
    Category("5912", POS, 0.05, 0.7),  # pharmacy
    Category("5311", POS, 0.04, 1.6),  # department stores
    Category("5999", ECOM, 0.08, 1.0, stolen_target=True, testing_small=True),  # misc online
    Category("5732", ECOM, 0.05, 3.0, stolen_target=True, testing_large=True),  # electronics
    Category("5944", ECOM, 0.02, 4.0, stolen_target=True, testing_large=True),  # jewellery
    Category("5815", ECOM, 0.06, 0.4, stolen_target=True, testing_small=True),  # digital goods
    Category("4121", ECOM, 0.05, 0.6, shift_target=True),  # ride hailing
    Category("4511", ECOM, 0.03, 6.0, stolen_target=True),  # airlines
    Category("7011", ECOM, 0.03, 5.0, stolen_target=True),  # hotels
    Category("5942", ECOM, 0.03, 0.8, shift_target=True),  # books
    Category("8398", ECOM, 0.02, 0.5, testing_small=True),  # charities
    Category("6011", ATM, 0.05, 2.5, visits=0.4),  # cash withdrawal
    Category("4829", P2P, 0.04, 1.5, stolen_target=True, testing_large=True),  # money transfer
    Category("7995", ECOM, 0.02, 1.5, shift_target=True),  # betting and gambling
    Category("4722", ECOM, 0.02, 4.0, shift_target=True),  # travel agencies
)

# Relative payment intensity by local hour (max 1): people sleep at night.
_NIGHT_TO_NOON = (0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.20, 0.45, 0.70, 0.80, 0.85, 0.90)
_NOON_TO_NIGHT = (1.00, 0.95, 0.85, 0.80, 0.85, 0.90, 0.95, 0.90, 0.75, 0.50, 0.30, 0.12)
DAY_RHYTHM: npt.NDArray[np.float64] = np.concatenate((_NIGHT_TO_NOON, _NOON_TO_NIGHT))
# Relative payment intensity by local weekday, Monday first (max 1): Friday and
# Saturday shopping, quiet Sundays.
WEEK_RHYTHM: npt.NDArray[np.float64] = np.array((0.82, 0.84, 0.86, 0.88, 0.97, 1.00, 0.70))

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
