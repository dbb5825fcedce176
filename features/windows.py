"""The windows spec: every window, entity, distinct family and cap of the features, once.

The catalogue (``features.catalogue``: names, lengths, bucket sizes), the raw aggregate
layout (``features.aggregates``), the feature kernel and its state codec
(``features.kernel``, ``features.kernel_states``: the buckets kept per resolution, the
columns written) and with them the store and the in-memory twin (``features.offline``,
which only run the kernel) all derive their tables from here; the Lua scripts left
(``features/lua``) hold no window. ``tests/features/test_windows_spec.py`` fails if any of them
declares its own. The entity kinds themselves are ``contracts.records.ENTITY_KINDS`` (the
settings validate against them), in the kernel's order.

A window is the event's own bucket and the ``buckets`` before it (docs/redis-keys.md).

>>> [(w.name, w.length_ms, w.resolution) for w in WINDOWS][:2]
[('10m', 600000, 0), ('1h', 3600000, 1)]
>>> KEEP, [WINDOW[w].days for w in DISTINCT_WINDOWS]
((10, 12, 24, 30), [1, 7])
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.records import ENTITY_KINDS

__all__ = [
    "COUNTED",
    "DAY_MS",
    "DISTINCT",
    "DISTINCT_CAP",
    "DISTINCT_WINDOWS",
    "ENTITIES",
    "FIRST_SEEN",
    "KEEP",
    "LABELLED",
    "LABEL_WINDOWS",
    "MOMENT_ENTITY",
    "MOMENT_WINDOW",
    "PREVIOUS_ENTITY",
    "RESOLUTIONS",
    "WINDOW",
    "WINDOWS",
    "Distinct",
    "Window",
]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: The entities of a payment, in the kernel's order (index = entity kind).
ENTITIES: tuple[str, ...] = ENTITY_KINDS
#: The bucket sizes of an entity's state, finest first (ms); a window uses one of them.
RESOLUTIONS: tuple[int, ...] = (MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, DAY_MS)


@dataclass(frozen=True)
class Window:
    """A window: its name, bucket size and number of earlier buckets, and how it is said."""

    name: str
    bucket_ms: int
    buckets: int
    spoken: str

    @property
    def length_ms(self) -> int:
        return self.bucket_ms * self.buckets

    @property
    def resolution(self) -> int:
        """The index of its bucket size in ``RESOLUTIONS``."""
        return RESOLUTIONS.index(self.bucket_ms)

    @property
    def days(self) -> int:
        """Its length in whole days (the day-resolution lists: distinct values, labels)."""
        return self.length_ms // DAY_MS


WINDOWS: tuple[Window, ...] = (
    Window("10m", MINUTE_MS, 10, "10 minutes"),
    Window("1h", 5 * MINUTE_MS, 12, "hour"),
    Window("24h", HOUR_MS, 24, "24 hours"),
    Window("7d", DAY_MS, 7, "7 days"),
    Window("30d", DAY_MS, 30, "30 days"),
)
WINDOW: dict[str, Window] = {w.name: w for w in WINDOWS}
#: Earlier buckets an entity's state keeps per resolution: the longest window using it.
KEEP: tuple[int, ...] = tuple(max(w.buckets for w in WINDOWS if w.bucket_ms == r) for r in RESOLUTIONS)

#: Entities with a count and an amount sum per window (all of them), in raw order.
COUNTED: tuple[str, ...] = ENTITIES
#: The card's amounts also keep their squares (average, deviation, z-score) over this window.
MOMENT_ENTITY = "card"
MOMENT_WINDOW = "30d"
#: The entity whose previous payment time is kept.
PREVIOUS_ENTITY = "card"
#: Entities whose first-seen time is kept, in raw order.
FIRST_SEEN: tuple[str, ...] = ("card", "device", "email")


@dataclass(frozen=True)
class Distinct:
    """A distinct-count family: the entity, what it counts (``merchants``, ``countries``,
    ``cards``: the merchant's, the merchant country's or the card's hash)."""

    entity: str
    what: str

    @property
    def name(self) -> str:
        return f"{self.entity}_{self.what}"


#: Distinct-count families in raw order; an entity's families are its lists, in this order.
DISTINCT: tuple[Distinct, ...] = (
    Distinct("card", "merchants"),
    Distinct("card", "countries"),
    Distinct("device", "cards"),
    Distinct("ip", "cards"),
    Distinct("email", "cards"),
)
#: The windows of the distinct counts (day lists: the event's day and ``days`` before).
DISTINCT_WINDOWS: tuple[str, ...] = ("24h", "7d")
#: Distinct counts saturate here (per-day lists hold at most this many values).
DISTINCT_CAP = 32
#: Entities that keep label entries, and the windows of their fraud counts.
LABELLED: tuple[str, ...] = ("card", "merchant")
LABEL_WINDOWS: tuple[str, ...] = ("7d", "30d")
