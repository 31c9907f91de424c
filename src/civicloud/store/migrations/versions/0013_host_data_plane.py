"""a host's data plane as its agent reports it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

What a host's agent last applied of its tenant networks (how many networks and ports, the digest of its
nftables tables, the errors of its last pass), from its heartbeat: shown to the operator and the lender on the
host, and to a network's member as "programmed" or not on each host holding it. NULL until the agent reports.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_plane', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('data_plane')
