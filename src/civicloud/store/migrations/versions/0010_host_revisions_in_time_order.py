"""host revisions in time order

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

A host's revision becomes one more than before and at least the database's clock in microseconds
(repositories.hosts.next_revision), so the control loop reads only the hosts whose revision rose above its last
mark instead of every host's revision at each pass: the column needs 64 bits. Existing values are kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.Integer(), type_=sa.BigInteger(),
                              existing_nullable=False, existing_server_default=sa.text('0'))


def downgrade() -> None:
    op.execute("UPDATE hosts SET revision = 0")  # µs instants do not fit 32 bits; a cache re-reads everything
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.BigInteger(), type_=sa.Integer(),
                              existing_nullable=False, existing_server_default=sa.text('0'))
