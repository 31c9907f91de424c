"""The audit log."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civicloud.wire.common import Out


class AuditEntryOut(Out):
    seq: int
    at: datetime
    actor: str
    member_id: str | None
    role: str
    action: str
    target: str
    outcome: int = Field(description="the HTTP status answered; 200 for a change the control plane made by itself")
    source: str = Field(description="the client's address, or 'control-plane'")
    prev_hash: str
    hash: str


class AuditVerifyOut(Out):
    entries: int
    intact: bool
    first_break: int | None = None
    reason: str | None = None
