"""The audit log, filterable by action, actor and target (admin keys not bound to an account)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.render import page
from api.console.session import Signed
from api.dependencies import get_app_settings, get_audit_log
from api.routers import audit as api_audit
from store.api_keys import Role

router = APIRouter(prefix="/ui")
Text = Annotated[str, Query(max_length=256)]
#: API pages read to fill one filtered console page.
SCAN_PAGES = 10


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit(
    request: Request,
    s: Signed,
    action: Text = "",
    who: Text = "",
    target: Text = "",
    cursor: Annotated[str, Query(pattern=r"^([0-9]{1,20}-[0-9]{1,20})?$")] = "",
) -> HTMLResponse:
    await s.need(Role.ADMIN)
    entries = []
    next_cursor: str | None = cursor or None
    for _ in range(SCAN_PAGES):
        got = await api_audit.audit_log(
            s.principal, get_audit_log(request), get_app_settings(request), limit=100, cursor=next_cursor
        )
        entries += [
            e for e in got.items
            if action.lower() in e.action.lower() and who in e.who and target in e.target
        ]  # fmt: skip
        next_cursor = got.next_cursor
        if next_cursor is None or len(entries) >= 50:
            break
    filters = {"action": action, "who": who, "target": target}
    return page(request, "audit.html", s=s, entries=entries, next_cursor=next_cursor, filters=filters)
