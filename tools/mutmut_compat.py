"""A pytest plugin that lets mutmut 3.7 run under pytest 9.

mutmut 3.7's stats hook reads ``item._nodeid``, which pytest 9 no longer has (mutmut
3.8 reads ``item.nodeid`` but needs click >= 8.4, and the CLI pins click 8.3). Loaded
only by ``tools.mutate`` (``-p tools.mutmut_compat``); remove it with a move to mutmut 3.8.
"""

from __future__ import annotations

from _pytest.nodes import Node

__all__: list[str] = []

if not hasattr(Node, "_nodeid"):
    Node._nodeid = property(lambda self: self.nodeid)  # type: ignore[attr-defined]
