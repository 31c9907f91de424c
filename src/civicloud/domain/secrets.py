"""The secrets civicloud hands out, each kind with its prefix. Pure.

Every secret the API answers with (an API token, a join token, a site credential) starts with a prefix
registered here, so that a secret can be recognised wherever it would otherwise be kept: the stored
answers of ``Idempotency-Key`` never hold one (``contains_secret``), and a test scans for them. A new
kind of secret gets its prefix here and is made with ``new_secret``.
"""

from __future__ import annotations

import re
import secrets
from enum import Enum


class SecretKind(str, Enum):
    API_TOKEN = "cct_"  # a user's API token
    JOIN_TOKEN = "cvj_"  # a site's one-time join token
    SITE_CREDENTIAL = "cvs_"  # a site agent's lasting credential


PREFIXES = tuple(k.value for k in SecretKind)
# 256 random bits in URL-safe base64 after the prefix (token_urlsafe(32) gives 43 characters).
_SECRET_RE = re.compile("(?:" + "|".join(re.escape(p) for p in PREFIXES) + r")[A-Za-z0-9_-]{20,}")


def new_secret(kind: SecretKind) -> str:
    return kind.value + secrets.token_urlsafe(32)


def contains_secret(text: str) -> bool:
    return _SECRET_RE.search(text) is not None
