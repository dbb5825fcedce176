"""API keys (admin): create, list, revoke. A key bound to an account manages only that account's keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from api.auth_first import AuthFirstRoute
from api.dependencies import AdminKey, get_key_store
from api.errors import BODY, PROTECTED, error_responses
from api.schemas import KeyCreate, KeyCreated, KeyList, KeyOut
from store.api_keys import KeyStore, LastAdminKey

router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=AuthFirstRoute)

KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="The key's public id")]


@router.get("", response_model=KeyList, responses=error_responses(*PROTECTED), summary="List API keys")
async def list_keys(principal: AdminKey, keys: Annotated[KeyStore, Depends(get_key_store)]) -> KeyList:
    return KeyList(items=[KeyOut.of(k) for k in await keys.list(principal.account)])


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses=error_responses(*PROTECTED, *BODY),
    summary="Create an API key; its secret is shown only in this answer",
)
async def create_key(
    body: KeyCreate, principal: AdminKey, keys: Annotated[KeyStore, Depends(get_key_store)]
) -> KeyCreated:
    account = body.account_id
    if principal.account is not None:
        if account not in (None, principal.account):
            raise HTTPException(403, "a key bound to an account can only create keys for that account")
        account = principal.account
    info, secret = await keys.create(role=body.role, account=account, name=body.name, by=principal.actor)
    return KeyCreated(**KeyOut.of(info).model_dump(), secret=secret)


@router.post(
    "/{key_id}/revoke",
    response_model=KeyOut,
    responses=error_responses(*PROTECTED, 404, 409, 422),
    summary="Revoke an API key (it answers 401 from now on)",
)
async def revoke_key(
    key_id: KeyId, principal: AdminKey, keys: Annotated[KeyStore, Depends(get_key_store)]
) -> KeyOut:
    current = await keys.get(key_id)
    if current is None or (principal.account is not None and current.account != principal.account):
        raise HTTPException(404, f"no API key {key_id!r}")
    try:
        info, revoked = await keys.revoke(key_id, by=principal.actor, keep_an_admin=True)
    except LastAdminKey as exc:
        raise HTTPException(409, f"{exc}: create another before revoking it") from exc
    if info is None:
        raise HTTPException(404, f"no API key {key_id!r}")
    if not revoked:
        raise HTTPException(409, f"API key {key_id!r} is already revoked")
    return KeyOut.of(info)
