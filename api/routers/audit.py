"""The audit log (admin keys not bound to an account)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from api.auth_first import AuthFirstRoute
from api.cursor import page_size
from api.dependencies import AdminKey, get_app_settings, get_audit_log
from api.errors import PROTECTED, error_responses
from api.schemas import AuditEntryOut, AuditPage
from api.tenancy import require_unbound
from contracts.settings import Settings
from store.audit import AuditLog, valid_stream_id

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=AuthFirstRoute)


@router.get(
    "",
    response_model=AuditPage,
    responses=error_responses(*PROTECTED, 422),
    summary="Changes made through the API and the CLI, newest first",
)
async def audit_log(
    principal: AdminKey,
    audit: Annotated[AuditLog, Depends(get_audit_log)],
    settings: Annotated[Settings, Depends(get_app_settings)],
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped by the server)")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$")] = None,
) -> AuditPage:
    require_unbound(principal, "the audit log covers every account")
    if cursor is not None and not valid_stream_id(cursor):
        raise HTTPException(422, "invalid cursor: pass the next_cursor of the previous page unchanged")
    size = page_size(limit, settings)
    entries, next_cursor = await audit.page(size, cursor)
    return AuditPage(
        items=[
            AuditEntryOut(
                id=e.id,
                who=e.who,
                role=e.role,
                account_id=e.account,
                action=e.action,
                target=e.target,
                at=datetime.fromisoformat(e.at),
                before=e.before,
                after=e.after,
            )
            for e in entries
        ],
        next_cursor=next_cursor,
    )
