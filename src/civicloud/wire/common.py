"""Field types shared by the wire models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# Names people type: no control characters (PostgreSQL refuses NUL in text), bounded length.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
# Identifiers: UUIDs in practice; bounded so that nothing absurd reaches the database.
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# An id or a name in a URL path (the services take either): bounded, and no control character, so that
# a NUL byte gets the same 422 on SQLite and PostgreSQL (which refuses NUL in text) instead of reaching SQL.
Ref = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f\s]+$")]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]



def _utc_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("this instant is out of range") from None
    if not 2000 <= utc.year <= 2200:
        raise ValueError("give an instant between the years 2000 and 2200")
    return utc


# An instant an agent measured something at: with its offset, turned into UTC, within sane years.
Instant = Annotated[AwareDatetime, AfterValidator(_utc_instant)]


class In(BaseModel):
    """Base of request bodies: unknown fields are refused, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ResourcesOut(Out):
    vcpus: int
    memory_mib: int
    disk_gib: int
    gpus: int = 0


class ErrorDetail(BaseModel):
    code: str = Field(description="stable error code, e.g. civicloud.workload.not_found")
    message: str = Field(description="what went wrong and what to do")
    field: str | None = Field(default=None, description="the request field at fault, when there is one")


class ErrorBody(BaseModel):
    error: ErrorDetail
