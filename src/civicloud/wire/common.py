"""Field types shared by the wire models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from civicloud.domain.periods import FIRST_YEAR, LAST_YEAR

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



# -- calendar --------------------------------------------------------------------------------------------
# Every date, instant and period the API takes lies in the years 2000 to 2999: wide enough for any agreement,
# price book or certification, and for asking about a far period (answered "not over yet"), and far from the
# ends of Python's calendar (years 1 and 9999), where billing's cuts at Paris midnights and at the day after an
# agreement ends overflow. An open end is null, never a far-off date.

OPEN_END = "an open end is null, not a far-off date"


def _utc_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"give an instant between {FIRST_YEAR}-01-01T00:00:00Z and {LAST_YEAR}-12-31T23:59:59Z, "
                         f"with its offset; {OPEN_END}")
    return utc


# An instant (an agent's measurement, a bound of a usage or audit range): with its offset, turned into UTC,
# within FIRST_YEAR..LAST_YEAR.
Instant = Annotated[AwareDatetime, AfterValidator(_utc_instant)]

_DAY_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DAY_RANGE = f"a date written YYYY-MM-DD, between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31"


def _day_text(value: object) -> object:
    # Only the ISO text (or a date, from Python callers): not a timestamp, nor an instant cut to its day.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY_TEXT.fullmatch(value):
        return value
    raise ValueError(f"give {DAY_RANGE}")


def _bounded_day(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"give {DAY_RANGE}; {OPEN_END}")
    return value


# A calendar day (an agreement's or price book's first or last day, a certification's expiry).
Day = Annotated[date, BeforeValidator(_day_text), AfterValidator(_bounded_day),
                Field(description=f"{DAY_RANGE}; {OPEN_END}")]

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
PERIOD_RANGE = f"a calendar month written YYYY-MM, between {FIRST_YEAR}-01 and {LAST_YEAR}-12"


def _bounded_period(value: str) -> str:
    if not FIRST_YEAR <= int(value[:4]) <= LAST_YEAR:
        raise ValueError(f"give {PERIOD_RANGE}")
    return value


# A billing period: a calendar month (Paris time).
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN, max_length=7), AfterValidator(_bounded_period),
                   Field(description=PERIOD_RANGE, examples=["2026-11"])]


# -- decimals --------------------------------------------------------------------------------------------

# Canonical decimal text; DecimalText.pattern is this with its own bound on the places.
DECIMAL_PATTERN = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_DECIMAL_MAX_LENGTH = 40


@dataclass(frozen=True)
class DecimalText:
    """Make ``Annotated[Decimal, DecimalText(ge, le, places)]`` a field within [ge, le], at most ``places``
    decimal places, read from canonical text. The one decimal type of the API's inputs.

    Accepted: a JSON string of plain decimal text — digits, an optional fraction of at most ``places``
    digits after a dot, no leading zero: ``"12.5"``, ``"0.20"`` — or a JSON number. JSON numbers are
    accepted because they are what most scripts send, but a JSON parser does not keep their text: what is
    checked is the number's shortest decimal form (Python's ``repr``), and it must be plain too. So integers
    and ordinary fractions (``0.0011``, ``12.5``) pass, while ``1e-30``, ``1e+16``, NaN and Infinity are
    refused; a tiny fraction whose shortest form has an exponent (0.00001 is ``1e-05``) must be sent as a
    string. Refused in any form: exponents, NaN, infinities, underscores,
    spaces, a plus sign, negative zero, leading zeros, booleans. Python callers may pass a ``Decimal``: it
    is checked by its value, written out in full. Output is always plain text (``format(d, "f")``).
    """

    ge: Decimal | int | str
    le: Decimal | int | str
    places: int
    description: str = ""

    @property
    def pattern(self) -> str:
        sign = "-?" if Decimal(self.ge) < 0 else ""
        fraction = rf"(\.[0-9]{{1,{self.places}}})?" if self.places else ""
        return rf"^{sign}(0|[1-9][0-9]*){fraction}$"

    @property
    def rule(self) -> str:
        return (f"a decimal between {_plain(Decimal(self.ge))} and {_plain(Decimal(self.le))} with at most "
                f"{self.places} decimal places, written as plain digits (e.g. 12.5): no exponent, NaN, "
                "infinity, underscore or space")

    def parse(self, value: object) -> Decimal:
        if isinstance(value, Decimal):
            text = format(value, "f") if value.is_finite() else "NaN"
        elif isinstance(value, bool):
            text = "boolean"
        elif isinstance(value, int):
            text = str(value) if value.bit_length() <= 200 else "too long"
        elif isinstance(value, float):
            text = repr(value)  # the shortest text that reads back as this float
        elif isinstance(value, str):
            text = value
        else:
            raise ValueError(f"give {self.rule}")
        if len(text) > _DECIMAL_MAX_LENGTH or not re.fullmatch(DECIMAL_PATTERN, text):
            raise ValueError(f"give {self.rule}")
        if len(text.partition(".")[2]) > self.places:
            raise ValueError(f"too many decimal places: give {self.rule}")
        number = Decimal(text)  # exact: the context's precision does not apply to a conversion
        if text.startswith("-") and number == 0:
            raise ValueError(f"negative zero: give {self.rule}")
        if not Decimal(self.ge) <= number <= Decimal(self.le):
            raise ValueError(f"out of range: give {self.rule}")
        return number

    def __get_pydantic_core_schema__(self, _source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse, serialization=core_schema.plain_serializer_function_ser_schema(
                _plain, return_schema=core_schema.str_schema(), when_used="json"))

    def __get_pydantic_json_schema__(self, _schema: CoreSchema, _handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        low, high = Decimal(self.ge), Decimal(self.le)
        return {
            "anyOf": [{"type": "number", "minimum": _json_number(low), "maximum": _json_number(high)},
                      {"type": "string", "pattern": self.pattern, "maxLength": _DECIMAL_MAX_LENGTH}],
            "description": f"{self.description + '; ' if self.description else ''}{self.rule}. A JSON number "
                           "is accepted when its shortest decimal form is plain (integers, 0.0011, 12.5; not "
                           "1e-30): send other values as strings",
        }


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


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
