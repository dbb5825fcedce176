"""Every Redis key riskwire writes, named in one place (``docs/redis-keys.md`` mirrored).

No module outside ``store/`` builds a key name (``tests/store/test_layout.py`` greps for
the prefix), and the stores' Lua receives its prefix as an argument rather than spelling
it. Keys that one atomic change touches share a Redis Cluster hash slot: Redis hashes
only the part of a key between the first ``{`` and the next ``}`` (the hash tag), so

- ``API`` (``rw:{api}:``): API keys, rate limits, the audit log, the decision indexes,
  decision metadata and the review queue — the audit entry is written with key and
  review changes, and reviews check the metadata, so they all share one slot;
- ``RULES`` (``rw:{rules}:``): rules, lists and their history;
- ``ONLINE`` (``rw:{ol}:``): the online learner's checkpoint, seen labels and pending labels;
- decision records (``rw:decision:{<ref>}``) take the event's reference as their tag, so
  the bulk of the memory spreads over the cluster; each is written alone (``SET NX GET``);
- feature state (``rw:f:{card:<name>}``, ``rw:f:{ev:<ref>}`` …): one tag per entity and
  per event, and no command spans two of them.

>>> decision_key("acme:e1")
'rw:decision:{acme:e1}'
>>> index_key("card", "c1"), review_queue_key("open", "acme")
('rw:{api}:dx:card:c1', 'rw:{api}:rv:open:acme')
>>> FeatureKeys().entity(0, "n1"), FeatureKeys().event(":e1")
('rw:f:{card:n1}', 'rw:f:{ev::e1}')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from contracts.records import ENTITY_KINDS

__all__ = [
    "ACCOUNTS", "API", "API_KEYS_INDEX", "AUDIT", "DECISION", "FEATURES", "INDEX_ALL", "ONLINE",
    "ONLINE_PENDING", "ONLINE_PENDING_AT", "ONLINE_SEEN", "ONLINE_SEQ", "ONLINE_STATE", "PREFIX",
    "RATE_PREFIX", "RULES", "FeatureKeys", "api_key", "decision_key", "feature_pattern",
    "index_key", "meta_key", "rate_key", "review_key", "review_queue_key", "tagged",
]  # fmt: skip

PREFIX: Final = "rw:"
API: Final = PREFIX + "{api}:"
RULES: Final = PREFIX + "{rules}:"
ONLINE: Final = PREFIX + "{ol}:"
DECISION: Final = PREFIX + "decision:"
FEATURES: Final = PREFIX + "f:"

# Decisions (store/decisions.py): metadata fields a, c, u, m, l, d, t are account, card,
# customer, merchant (pseudonyms), risk level, decision and the index score.
_META: Final = API + "dmeta:"
_INDEX: Final = API + "dx:"
INDEX_ALL: Final = _INDEX + "all"
#: Every account that has a stored decision (global keys' lookups by event id).
ACCOUNTS: Final = API + "accounts"
_REVIEW_QUEUE: Final = API + "rv:"
_REVIEW: Final = API + "review:"

# API keys, rate limits and the audit log (store/api_keys.py, store/audit.py).
_API_KEY: Final = API + "apikey:"
API_KEYS_INDEX: Final = API + "apikeys"
RATE_PREFIX: Final = API + "ratelimit:"
AUDIT: Final = API + "audit"

# The online learner's checkpoint (store/online_checkpoint.py).
ONLINE_SEQ: Final = ONLINE + "seq"
ONLINE_STATE: Final = ONLINE + "state"
ONLINE_PENDING: Final = ONLINE + "pending"
#: When each pending label was filed (ms): they expire after a TTL, the oldest go first past a cap.
ONLINE_PENDING_AT: Final = ONLINE + "pending:at"
ONLINE_SEEN: Final = ONLINE + "seen:"


def tagged(prefix: str, ident: str) -> str:
    """``prefix`` + ``ident`` as the key's hash tag: the key's slot follows ``ident``."""
    return f"{prefix}{{{ident}}}"


def decision_key(ref: str) -> str:
    """``rw:decision:{<ref>}``: the event's reference is the key's hash tag."""
    return tagged(DECISION, ref)


def meta_key(ref: str) -> str:
    """A decision's account, entities, level and decision, for searches and reviews."""
    return _META + ref


def index_key(kind: str, value: str) -> str:
    """The search index of one filter value, e.g. ``index_key("card", "c1")``."""
    return f"{_INDEX}{kind}:{value}"


def review_queue_key(status: str, account: str | None = None) -> str:
    return f"{_REVIEW_QUEUE}{status}" + (f":{account}" if account else "")


def review_key(ref: str) -> str:
    return _REVIEW + ref


def api_key(key_id: str) -> str:
    return _API_KEY + key_id


def rate_key(key_id: str) -> str:
    return RATE_PREFIX + key_id


def feature_pattern(kind: str) -> str:
    """A ``SCAN``/``MEMORY`` pattern over the feature states of one entity kind (or ``ev``)."""
    return f"{FEATURES}{{{kind}:*"


@dataclass(frozen=True)
class FeatureKeys:
    """Feature-state key names (store/feature_state.py): one hash tag per entity and per
    event; ``prefix`` lets a test or a second deployment share one Redis."""

    prefix: str = PREFIX

    def entity(self, kind: int, ident: str) -> str:
        return f"{self.prefix}f:{{{ENTITY_KINDS[kind]}:{ident}}}"

    def event(self, ref: str) -> str:
        """The guard of an event, by its reference (``contracts.identity.event_ref``)."""
        return f"{self.prefix}f:{{ev:{ref}}}"

    @property
    def since(self) -> str:
        return f"{self.prefix}f:meta:history_since"

    @property
    def late(self) -> str:
        return f"{self.prefix}f:meta:late_events"
