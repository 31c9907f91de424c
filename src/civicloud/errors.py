"""One exception hierarchy, each class with a stable code.

Codes never change once released; messages may. Every layer raises these (or
subclasses), and the API maps ``kind`` to an HTTP status. Library errors
(SQLAlchemy, libvirt, httpx) are translated where they are caught.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    INVALID = "invalid"  # the caller sent something wrong: 422
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # the state forbids it, or someone else changed it: 409
    UNAUTHORIZED = "unauthorized"  # missing or bad credential: 401
    FORBIDDEN = "forbidden"  # a good credential whose roles do not allow it: 403
    RATE_LIMITED = "rate_limited"  # too many attempts: 429
    UNAVAILABLE = "unavailable"  # a dependency is down: 503
    INTERNAL = "internal"  # a bug: 500


# Where the fault is the server's or the way to it (out of reach, a 5xx), not the request's: the same call may
# work later. Callers of the API retry on these kinds and give up on the others.
SERVER_SIDE = frozenset({ErrorKind.UNAVAILABLE, ErrorKind.INTERNAL})


class CivicloudError(Exception):
    """Base of every error civicloud raises on purpose."""

    code = "civicloud.error"
    kind = ErrorKind.INTERNAL

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidInput(CivicloudError):
    code = "civicloud.request.invalid"
    kind = ErrorKind.INVALID


class NotFound(CivicloudError):
    code = "civicloud.not_found"
    kind = ErrorKind.NOT_FOUND

    @classmethod
    def of(cls, area: str, ident: str) -> NotFound:
        return cls(f"no {area.replace('_', ' ')} with id {ident!r}; list them to find the right id",
                   code=f"civicloud.{area}.not_found")


class Conflict(CivicloudError):
    code = "civicloud.conflict"
    kind = ErrorKind.CONFLICT


class ConcurrentUpdate(Conflict):
    """A compare-and-swap lost against another writer; re-read and retry."""

    code = "civicloud.concurrent_update"


class Unauthorized(CivicloudError):
    code = "civicloud.auth.unauthorized"
    kind = ErrorKind.UNAUTHORIZED


class Unavailable(CivicloudError):
    code = "civicloud.unavailable"
    kind = ErrorKind.UNAVAILABLE


class Forbidden(CivicloudError):
    code = "civicloud.auth.forbidden"
    kind = ErrorKind.FORBIDDEN


class RateLimited(CivicloudError):
    code = "civicloud.auth.rate_limited"
    kind = ErrorKind.RATE_LIMITED

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message, code=code, field=field)
        self.retry_after_s = retry_after_s  # when one more is admitted (the answer's Retry-After)
