"""change counters for the control loop's cache

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

A revision per host, moved by every write to its row, and a "catalogue" counter moved by every write to members,
agreements, sites, certifications, offers, offerings and placement groups: the control loop keeps its placement
context between passes and re-reads only what moved (services/snapshots.ContextCache). Existing rows start at 0;
a control loop that started before the upgrade reads everything again at its next pass (its cache is empty).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default=sa.text('0'), nullable=False))
    revisions = op.create_table(
        'revisions',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_revisions')),
    )
    op.bulk_insert(revisions, [{'name': 'catalogue', 'value': 0}])


def downgrade() -> None:
    op.drop_table('revisions')
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('revision')
