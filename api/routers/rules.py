"""Rules and lists (admin): create, validate, enable, disable, delete, history, backtest.

Every change bumps the rule store's version; workers and ``POST /v1/score`` pick it
up within a second. Rules serve every account, so keys bound to one cannot change them.
The backtest runs a candidate rule over the decisions stored in Redis (newest first):
it sees their features, risk score and probability, card, customer, merchant and
account; fields only the transaction carried (countries, e-mail, …) are missing
there, so such conditions never match in an API backtest (use replayed files for those).
Labels come from closed reviews.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from api.auth_first import AuthFirstRoute
from api.dependencies import GlobalAdminKey, get_audit_log, get_decision_store, get_redis
from api.errors import BODY, PROTECTED, error_responses
from api.tenancy import require_unbound
from contracts.identity import split_ref
from pipeline.record_shapes import expand_features
from rules.backtest import backtest as run_backtest
from rules.compiler import compile_rule
from rules.errors import RuleSyntaxError
from store.audit import AuditLog, entry_fields
from store.connect import AsyncRedis
from store.decisions import DecisionStore
from store.rules import HistoryEntry, RuleStore

router = APIRouter(prefix="/v1", tags=["rules"], route_class=AuthFirstRoute)
RuleId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ListName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class RuleText(BaseModel):
    text: str = Field(min_length=1, max_length=4000, examples=["review if :amount: > 1000"])


class RuleCreate(RuleText):
    enabled: bool = True


class RuleOut(BaseModel):
    id: str
    text: str
    enabled: bool
    created_at: str
    updated_at: str


class RulesOut(BaseModel):
    version: int
    rules: list[RuleOut]
    lists: dict[str, list[str]]


class Changed(BaseModel):
    version: int
    id: str | None = None


class Valid(BaseModel):
    valid: bool
    action: str


class ListItems(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=10_000)
    remove: list[str] = Field(default_factory=list, max_length=10_000)


class Backtest(BaseModel):
    rule: str
    decisions_scanned: int
    matched_fraud: int
    matched_legit: int
    matched_unlabelled: int
    total_fraud: int
    total_legit: int
    total_unlabelled: int
    examples_fraud: list[str]
    examples_legit: list[str]
    examples_unlabelled: list[str]


class BacktestRequest(RuleText):
    limit: int = Field(default=10_000, ge=1, le=100_000, description="Newest stored decisions to scan")


def get_rule_store(client: Annotated[AsyncRedis, Depends(get_redis)]) -> RuleStore:
    return RuleStore(client)


RULES_ARE_GLOBAL = "rules and lists serve every account"
Store = Annotated[RuleStore, Depends(get_rule_store)]
Audit = Annotated[AuditLog, Depends(get_audit_log)]


def _syntax(exc: RuleSyntaxError) -> HTTPException:
    return HTTPException(422, str(exc))


@router.get(
    "/rules", response_model=RulesOut, responses=error_responses(*PROTECTED), summary="Rules and lists"
)
async def list_rules(principal: GlobalAdminKey, store: Store) -> RulesOut:
    require_unbound(principal, RULES_ARE_GLOBAL)  # lists may hold any account's card or customer ids
    version, rules, lists = await store.snapshot()
    return RulesOut(
        version=version,
        rules=[RuleOut(id=r.rule_id, text=r.text, enabled=r.enabled, created_at=r.created_at,
                       updated_at=r.updated_at) for r in rules],
        lists={name: sorted(items) for name, items in lists.items()},
    )  # fmt: skip


@router.post(
    "/rules/validate",
    response_model=Valid,
    responses=error_responses(*PROTECTED, *BODY),
    summary="Check a rule; a malformed one answers 422 with the position and cause",
)
async def validate_rule(body: RuleText, principal: GlobalAdminKey, store: Store) -> Valid:
    try:
        rule = compile_rule(body.text, known_lists=await store.list_names())
    except RuleSyntaxError as exc:
        raise _syntax(exc) from exc
    return Valid(valid=True, action=rule.action)


@router.post(
    "/rules",
    status_code=201,
    response_model=Changed,
    responses=error_responses(*PROTECTED, *BODY),
    summary="Add a rule (validated first)",
)
async def create_rule(body: RuleCreate, principal: GlobalAdminKey, store: Store, audit: Audit) -> Changed:
    require_unbound(principal, RULES_ARE_GLOBAL)
    try:
        rule_id, version = await store.create_rule(body.text, enabled=body.enabled, who=principal.actor.who)
    except RuleSyntaxError as exc:
        raise _syntax(exc) from exc
    await audit.add(entry_fields(principal.actor, "rules.create", rule_id, None, body.model_dump()))
    return Changed(version=version, id=rule_id)


async def _toggle(principal: Any, store: RuleStore, audit: AuditLog, rule_id: str, op: str) -> Changed:
    require_unbound(principal, RULES_ARE_GLOBAL)
    change = {"enable": store.enable_rule, "disable": store.disable_rule, "delete": store.delete_rule}[op]
    try:
        version = await change(rule_id, who=principal.actor.who)
    except KeyError as exc:
        raise HTTPException(404, f"no rule {rule_id!r}") from exc
    await audit.add(entry_fields(principal.actor, f"rules.{op}", rule_id, None, {"version": version}))
    return Changed(version=version, id=rule_id)


_CHANGE_ERRORS = error_responses(*PROTECTED, 404, 422)


@router.post(
    "/rules/{rule_id}/enable",
    summary="Let a rule take part in decisions",
    response_model=Changed,
    responses=_CHANGE_ERRORS,
)
async def enable_rule(rule_id: RuleId, principal: GlobalAdminKey, store: Store, audit: Audit) -> Changed:
    return await _toggle(principal, store, audit, rule_id, "enable")


@router.post(
    "/rules/{rule_id}/disable",
    summary="Keep a rule but leave it out of decisions",
    response_model=Changed,
    responses=_CHANGE_ERRORS,
)
async def disable_rule(rule_id: RuleId, principal: GlobalAdminKey, store: Store, audit: Audit) -> Changed:
    return await _toggle(principal, store, audit, rule_id, "disable")


@router.delete("/rules/{rule_id}", summary="Remove a rule", response_model=Changed, responses=_CHANGE_ERRORS)
async def delete_rule(rule_id: RuleId, principal: GlobalAdminKey, store: Store, audit: Audit) -> Changed:
    return await _toggle(principal, store, audit, rule_id, "delete")


@router.get(
    "/rules/history", response_model=list[HistoryEntry], responses=error_responses(*PROTECTED),
    summary="Every change to rules and lists, newest first",
)  # fmt: skip
async def rule_history(principal: GlobalAdminKey, store: Store) -> list[HistoryEntry]:
    require_unbound(principal, RULES_ARE_GLOBAL)
    return list(reversed(await store.history(500)))


@router.post(
    "/lists/{name}/items",
    response_model=Changed,
    responses=error_responses(*PROTECTED, *BODY),
    summary="Create a list or add and remove its items",
)
async def change_list(
    name: ListName, body: ListItems, principal: GlobalAdminKey, store: Store, audit: Audit
) -> Changed:
    require_unbound(principal, RULES_ARE_GLOBAL)
    version = await store.create_list(name, who=principal.actor.who)
    if body.add:
        version = await store.add_list_items(name, body.add, who=principal.actor.who)
    if body.remove:
        version = await store.remove_list_items(name, body.remove, who=principal.actor.who)
    await audit.add(entry_fields(principal.actor, "lists.change", name, None, body.model_dump()))
    return Changed(version=version)


@router.post(
    "/rules/backtest",
    response_model=Backtest,
    responses=error_responses(*PROTECTED, *BODY),
    summary="What a candidate rule would have matched among the stored decisions",
)
async def backtest_rule(
    body: BacktestRequest,
    principal: GlobalAdminKey,
    store: Store,
    decisions: Annotated[DecisionStore, Depends(get_decision_store)],
) -> Backtest:
    require_unbound(principal, RULES_ARE_GLOBAL)
    _, _, lists = await store.load()
    try:
        rule = compile_rule(body.text, known_lists=set(lists))
    except RuleSyntaxError as exc:
        raise _syntax(exc) from exc
    records = await _history(decisions, await decisions.newest(body.limit))
    result = run_backtest(rule, records, lists)
    return Backtest(decisions_scanned=len(records), **vars(result))


async def _history(decisions: DecisionStore, ids: list[str]) -> list[tuple[dict[str, object], str | None]]:
    """(values, label) per stored decision, in two round trips per 1,000 (the records,
    opened by the decision store, then the review outcomes)."""
    out: list[tuple[dict[str, object], str | None]] = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        bodies = await decisions.read(chunk)
        outcomes = await decisions.review_outcomes(chunk)
        for ref, body, outcome in zip(chunk, bodies, outcomes, strict=True):
            if body is None:
                continue
            record = orjson.loads(body)
            values: dict[str, object] = {n: f["value"] for n, f in expand_features(record).items()}
            # The ids as the producer sent them are in the record (indexes hold pseudonyms).
            values.update(
                event_id=split_ref(ref)[1], card_id=record.get("card_id"),
                customer_id=record.get("customer_id"), merchant_id=record.get("merchant_id"),
                account_id=record.get("account_id"), risk_score=record["risk_score"],
                probability=record["probability"],
            )  # fmt: skip
            out.append((values, outcome))
    return out
