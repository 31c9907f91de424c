"""site names per member, attested certifications

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Site names are unique among one member's sites (no longer federation-wide). Certifications gain the
operator's attestation (when, by whom, certificate number, issuer, valid from); one of each kind per site.
Certifications present before this revision are left unattested: the operator attests them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import civicloud.store.tables

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sites_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_sites_member_id_name'), ['member_id', 'name'])

    with op.batch_alter_table('certifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('valid_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('attested_at', civicloud.store.tables.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('attested_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('certificate_number', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('issuer', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_certifications_site_id_kind'), ['site_id', 'kind'])


def downgrade() -> None:
    with op.batch_alter_table('certifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_certifications_site_id_kind'), type_='unique')
        batch_op.drop_column('issuer')
        batch_op.drop_column('certificate_number')
        batch_op.drop_column('attested_by')
        batch_op.drop_column('attested_at')
        batch_op.drop_column('valid_from')

    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sites_member_id_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_sites_name'), ['name'])
