"""Join tokens and site credentials (stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, select, update

from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo


class CredentialRepository(Repo):
    def add_join_token(self, token_id: str, site_id: str, token_hash: str, now: datetime,
                       expires_at: datetime) -> None:
        self._conn.execute(insert(t.join_tokens).values(id=token_id, site_id=site_id, token_hash=token_hash,
                                                        expires_at=expires_at, created_at=now))

    def consume_join_token(self, token_hash: str, now: datetime) -> str | None:
        """Mark a valid, unused token used and return its site; None if it is not (any longer) valid."""
        row = self._one(select(t.join_tokens).where(t.join_tokens.c.token_hash == token_hash))
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        result = self._conn.execute(update(t.join_tokens)
                                    .where(and_(t.join_tokens.c.id == row.id, t.join_tokens.c.used_at.is_(None)))
                                    .values(used_at=now))
        return str(row.site_id) if result.rowcount == 1 else None

    def add_site_credential(self, cred_id: str, site_id: str, secret_hash: str, agent_name: str,
                            now: datetime) -> None:
        self._conn.execute(insert(t.site_credentials).values(id=cred_id, site_id=site_id, secret_hash=secret_hash,
                                                             agent_name=agent_name, created_at=now))

    def site_for_credential(self, secret_hash: str) -> str | None:
        row = self._one(select(t.site_credentials.c.site_id).where(and_(
            t.site_credentials.c.secret_hash == secret_hash, t.site_credentials.c.revoked_at.is_(None))))
        return str(row.site_id) if row else None

    def revoke_site_credentials(self, site_id: str, now: datetime) -> int:
        """Revoke every live credential of a site's agents; the number revoked."""
        result = self._conn.execute(update(t.site_credentials).where(and_(
            t.site_credentials.c.site_id == site_id, t.site_credentials.c.revoked_at.is_(None))).values(revoked_at=now))
        return int(result.rowcount)
