"""Rules: the list with versions, an editor that validates as you type (the API's
positions), a backtest on stored decisions before saving, history with undo."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError

from api.console.render import page
from api.console.session import Signed, form_fields
from api.dependencies import get_audit_log, get_decision_store, get_redis
from api.routers import rules as api_rules
from store.api_keys import Role
from store.rules import RuleStore

router = APIRouter(prefix="/ui")
RuleId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_POSITION = re.compile(r" at position (\d+)\n")
#: How each change in the history is undone.
UNDO = {"enable": "disable", "disable": "enable", "create": "delete", "delete": "create"}


def _store(request: Request) -> RuleStore:
    return api_rules.get_rule_store(get_redis(request))


def syntax_error(detail: str) -> dict[str, Any]:
    """The API's 422 text split into cause and position (None when it names none)."""
    match = _POSITION.search(detail)
    if match is None:
        return {"cause": detail, "position": None}
    return {"cause": detail[: match.start()], "position": int(match.group(1))}


async def _rules_page(request: Request, s: Signed, **extra: Any) -> HTMLResponse:
    store = _store(request)
    listing = await api_rules.list_rules(s.principal, store)
    history = await api_rules.rule_history(s.principal, store)
    texts = {h.target: h.detail for h in history if h.op == "create"}
    return page(
        request, "rules.html", s=s, listing=listing, history=history[:100], texts=texts, undo=UNDO, **extra
    )


@router.get("/rules", response_class=HTMLResponse, include_in_schema=False)
async def rules(request: Request, s: Signed, done: str = "") -> HTMLResponse:
    await s.need(Role.ADMIN)
    return await _rules_page(request, s, done=done, text="", backtest=None, error=None)


@router.post("/rules/validate", include_in_schema=False)
async def validate(request: Request, s: Signed) -> JSONResponse:
    """For the editor as the analyst types: {valid, action} or {valid: false, cause, position}."""
    s.check_csrf(request)
    await s.need(Role.ADMIN)
    try:
        body = api_rules.RuleText.model_validate_json(await request.body())
        ok = await api_rules.validate_rule(body, s.principal, _store(request))
    except ValidationError as exc:
        return JSONResponse({"valid": False, "cause": exc.errors()[0]["msg"], "position": None})
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        return JSONResponse({"valid": False, **syntax_error(str(exc.detail))})
    return JSONResponse({"valid": True, "action": ok.action})


async def _form_text(request: Request, s: Signed) -> tuple[dict[str, str], str]:
    form = await form_fields(request)
    s.check_csrf(request, form)
    await s.need(Role.ADMIN)
    return form, form.get("text", "").strip()


async def _refused(request: Request, s: Signed, text: str, exc: Exception) -> HTMLResponse:
    """The rules page again with why the rule was refused (an empty text, or its syntax error);
    any other HTTP error goes on up."""
    if isinstance(exc, ValidationError):
        error: dict[str, Any] = {"cause": "write a rule first", "position": None}
    elif isinstance(exc, HTTPException) and exc.status_code == 422:
        error = syntax_error(str(exc.detail))
    else:
        raise exc
    return await _rules_page(request, s, done="", text=text, backtest=None, error=error)


@router.post("/rules/backtest", response_class=HTMLResponse, include_in_schema=False)
async def backtest(request: Request, s: Signed) -> HTMLResponse:
    _, text = await _form_text(request, s)
    try:
        body = api_rules.BacktestRequest(text=text)
        result = await api_rules.backtest_rule(
            body=body, principal=s.principal, store=_store(request), decisions=get_decision_store(request)
        )
    except (ValidationError, HTTPException) as exc:
        return await _refused(request, s, text, exc)
    return await _rules_page(request, s, done="", text=text, backtest=result, error=None)


@router.post("/rules", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def save(request: Request, s: Signed) -> HTMLResponse | RedirectResponse:
    form, text = await _form_text(request, s)
    try:
        body = api_rules.RuleCreate(text=text, enabled=form.get("enabled", "on") == "on")
        changed = await api_rules.create_rule(body, s.principal, _store(request), get_audit_log(request))
    except (ValidationError, HTTPException) as exc:
        return await _refused(request, s, text, exc)
    return RedirectResponse(
        f"/ui/rules?done={quote(f'rule {changed.id} saved: version {changed.version}')}", 303
    )


@router.post("/rules/{rule_id}/{op}", include_in_schema=False)
async def change(request: Request, s: Signed, rule_id: RuleId, op: str) -> RedirectResponse:
    """Enable, disable or delete a rule, or (``create``) restore a deleted one from its history."""
    form = await form_fields(request)
    s.check_csrf(request, form)
    await s.need(Role.ADMIN)
    store, audit = _store(request), get_audit_log(request)
    if op == "create":
        history = await api_rules.rule_history(s.principal, store)
        text = next((h.detail for h in history if h.op == "create" and h.target == rule_id), None)
        if text is None:
            raise HTTPException(404, f"no history to restore rule {rule_id!r} from")
        changed = await api_rules.create_rule(api_rules.RuleCreate(text=text), s.principal, store, audit)
        message = f"rule {rule_id} restored as {changed.id}: version {changed.version}"
    elif op in ("enable", "disable", "delete"):
        act = {
            "enable": api_rules.enable_rule,
            "disable": api_rules.disable_rule,
            "delete": api_rules.delete_rule,
        }
        changed = await act[op](rule_id, s.principal, store, audit)
        message = f"rule {rule_id}: {op}d, version {changed.version}"
    else:
        raise HTTPException(404, f"no rule action {op!r}")
    return RedirectResponse(f"/ui/rules?done={quote(message)}", 303)
