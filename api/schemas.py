"""Request and response bodies of the API beyond the shared record schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.records import Decision, LabelKind
from store.api_keys import KeyInfo, Role

NameStr = Annotated[str, Field(min_length=1, max_length=200)]
AccountStr = Annotated[str, Field(min_length=1, max_length=256)]


class ErrorBody(BaseModel):
    """Every error answer: a human-readable message."""

    detail: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    redis: bool
    kafka: bool
    model: str = Field(description="The batch model version POST /v1/score uses")


# Keys.


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    account_id: AccountStr | None = Field(
        default=None, description="Bind the key to one account (tenant); omit for all accounts"
    )
    name: NameStr


class KeyOut(BaseModel):
    id: str
    role: Role
    account_id: str | None
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        return cls(
            id=info.id,
            role=info.role,
            account_id=info.account,
            name=info.name,
            created_at=datetime.fromisoformat(info.created_at),
            created_by=info.created_by,
            revoked_at=datetime.fromisoformat(info.revoked_at) if info.revoked_at else None,
            revoked_by=info.revoked_by,
        )


class KeyCreated(KeyOut):
    secret: str = Field(description="The bearer secret; shown only in this answer")


class KeyList(BaseModel):
    items: list[KeyOut]


# Audit.


class AuditEntryOut(BaseModel):
    id: str = Field(description="Stream entry id; also the cursor")
    who: str = Field(description="Key id of the actor, or `cli`")
    role: str
    account_id: str | None
    action: str
    target: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


# Decisions and reviews.


class DecisionPage(BaseModel):
    items: list[Decision] = Field(description="Newest first (or oldest first with `order=oldest`)")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class Explanation(BaseModel):
    """The full TreeSHAP explanation of a decision's batch model score."""

    event_id: str
    model_version: str = Field(description="The batch model version that scored the decision")
    base_value: float = Field(description="The model's expected margin (log-odds)")
    margin: float = Field(description="The batch model's raw margin for this payment: base + contributions")
    contributions: dict[str, float] = Field(
        description="Every feature's signed contribution, catalogue order"
    )


ReviewStatus = Literal["open", "assigned", "closed"]


class Review(BaseModel):
    event_id: str
    account_id: str | None = Field(default=None, description="The payment's account, when it named one")
    status: ReviewStatus
    queued_at: datetime = Field(description="When the decision was made (its `scored_at`)")
    assignee: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None
    outcome: LabelKind | None = None
    note: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None


class ReviewItem(Review):
    decision: Decision


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    next_cursor: str | None


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: NameStr | None = Field(default=None, description="Who works the review; default: the caller")


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: LabelKind
    note: Annotated[str, Field(max_length=2000)] | None = None


class LabelsAccepted(BaseModel):
    published: int = Field(description="Labels published to the labels topic")
