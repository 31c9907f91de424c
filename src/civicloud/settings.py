"""One Settings object, read from CIVICLOUD_* variables, built by entry points and passed down."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, TypedDict

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SslOptions(TypedDict, total=False):
    """uvicorn's TLS keyword arguments."""

    ssl_certfile: str
    ssl_keyfile: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVICLOUD_", extra="ignore")

    # Where the embedded database and local state live when no URL is given.
    data_dir: Path = Field(default=Path("."), description="directory for civicloud.db and agent state")
    # Unset: one SQLite file, <data_dir>/civicloud.db. PostgreSQL: postgresql+psycopg://user@host/db
    database_url: str | None = None
    bind_host: str = "127.0.0.1"
    bind_port: int = Field(default=8750, ge=1, le=65535)
    # When set, every non-agent API route requires "Authorization: Bearer <token>".
    # Full identity and roles come with the tenancy work; this guards a lone deployment meanwhile.
    api_token: str | None = None
    # Placement loop: how often pending workloads are retried when nothing wakes the loop.
    placement_interval_s: float = Field(default=2.0, gt=0, le=3600)
    # The least time between two passes of the control loop's process when wake-ups keep coming: a burst of
    # requests is decided in passes of many workloads rather than one pass per request (services.loops).
    placement_min_gap_s: float = Field(default=0.025, ge=0, le=10)
    # API worker processes of 'civicloud server' (the control loop has a process of its own beside them).
    api_workers: int = Field(default=2, ge=1, le=64)
    # A host whose agent has not reported for this long takes no new workload.
    host_stale_after_s: float = Field(default=60.0, gt=0)
    join_token_ttl_s: int = Field(default=3600, gt=0, le=30 * 86400)
    claim_retries: int = Field(default=5, ge=1, le=100)
    # Scorer weights per service class, replacing that class's built-in ones (docs/placement.md), e.g.
    # CIVICLOUD_PLACEMENT_WEIGHTS='{"harvest": {"pack": 3, "low_carbon": 2}}'; a class absent keeps its own. Unknown
    # scorers and weights outside (0, 100] stop the server at start-up with the reason.
    placement_weights: dict[Literal["harvest", "guaranteed"], dict[str, float]] = Field(default_factory=dict)
    # Pending workloads a placement pass takes at most; the rest wait for the next pass.
    placement_batch: int = Field(default=500, ge=1, le=100_000)
    # Grid carbon intensity used for sites that do not set theirs (gCO₂/kWh; France's mix by default).
    default_carbon_g_per_kwh: float = Field(default=52.0, ge=0, le=2000)
    # An hour's usage records are rolled up this long after the hour closed (late samples of short outages).
    metering_grace_s: float = Field(default=600.0, ge=0, le=86400)
    # Who issues the invoices (the seller on Factur-X files): the federation's operator.
    operator_name: str = Field(default="civicloud federation operator", min_length=1, max_length=120)
    operator_siret: str | None = None
    # HTTPS: the server's certificate chain and key (PEM). Set both to serve the API and the agent channel over TLS.
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Requests one API token may make per minute (a runaway script, a stolen token); 429 beyond. The default lets an
    # integrator's script make 500 a second, and stops a loop gone mad before it eats the server. A token's roles
    # may have limits of their own: CIVICLOUD_ROLE_REQUESTS_PER_MINUTE='{"member_user": 6000, "auditor": 3000}';
    # a token with several roles gets the most generous of them.
    token_requests_per_minute: int = Field(default=30_000, ge=10, le=1_000_000)
    role_requests_per_minute: dict[Literal["federation_admin", "auditor", "member_admin", "member_user",
                                           "site_operator"], Annotated[int, Field(ge=10, le=1_000_000)]] = \
        Field(default_factory=dict)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma-separated); none by default,
    # so that no caller can choose the address the audit log records and the login limit counts.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sql_echo: bool = False

    def requests_per_minute(self, roles: Iterable[str]) -> int:
        """What an API token carrying ``roles`` may make a minute."""
        limits: dict[str, int] = {str(role): n for role, n in self.role_requests_per_minute.items()}
        default = self.token_requests_per_minute
        return max((limits.get(r, default) for r in roles), default=default)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            for item in value:
                try:
                    ipaddress.ip_network(str(item), strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or network (CIVICLOUD_TRUSTED_PROXIES takes "
                                     "addresses or CIDRs, comma-separated)") from None
        return value

    @field_validator("database_url", "operator_siret")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'civicloud.db').resolve()}"

    @property
    def api_url(self) -> str:
        scheme = "https" if self.tls_certfile else "http"
        return f"{scheme}://{self.bind_host}:{self.bind_port}"

    def ssl_options(self) -> SslOptions:
        """uvicorn's TLS arguments, or none; refuses half a configuration."""
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            from civicloud.errors import InvalidInput

            raise InvalidInput("set both CIVICLOUD_TLS_CERTFILE and CIVICLOUD_TLS_KEYFILE, or neither",
                               code="civicloud.server.tls_incomplete", field="tls_keyfile")
        if not self.tls_certfile or not self.tls_keyfile:
            return {}
        return {"ssl_certfile": str(self.tls_certfile), "ssl_keyfile": str(self.tls_keyfile)}
