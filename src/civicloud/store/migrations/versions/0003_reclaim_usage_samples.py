"""reclaim deadlines, reboots, host CPU load, usage samples

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Workloads being evicted carry their deadline, and the last reboot asked for; hosts carry the CPU load their agent measured;
agents' usage samples get their append-only table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import civicloud.store.tables

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_samples',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('workload_id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('host_id', sa.String(length=36), nullable=False),
    sa.Column('sampled_at', civicloud.store.tables.UtcDateTime(), nullable=False),
    sa.Column('received_at', civicloud.store.tables.UtcDateTime(), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('cpu_time_ns', sa.BigInteger(), nullable=False),
    sa.Column('memory_mib', sa.Integer(), nullable=False),
    sa.Column('memory_used_mib', sa.Integer(), nullable=True),
    sa.Column('disk_read_bytes', sa.BigInteger(), nullable=False),
    sa.Column('disk_write_bytes', sa.BigInteger(), nullable=False),
    sa.Column('net_rx_bytes', sa.BigInteger(), nullable=False),
    sa.Column('net_tx_bytes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['hosts.id'], name=op.f('fk_usage_samples_host_id_hosts')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_usage_samples_member_id_members')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_usage_samples_site_id_sites')),
    sa.ForeignKeyConstraint(['workload_id'], ['workloads.id'], name=op.f('fk_usage_samples_workload_id_workloads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_samples'))
    )
    with op.batch_alter_table('usage_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_samples_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_samples_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ix_usage_samples_workload_id_sampled_at', ['workload_id', 'sampled_at'], unique=False)
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cpu_busy_percent', sa.Float(), nullable=True))
    with op.batch_alter_table('workloads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evict_deadline', civicloud.store.tables.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reboot_requested_at', civicloud.store.tables.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('workloads', schema=None) as batch_op:
        batch_op.drop_column('reboot_requested_at')
        batch_op.drop_column('evict_deadline')
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('cpu_busy_percent')
    with op.batch_alter_table('usage_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_samples_workload_id_sampled_at')
        batch_op.drop_index(batch_op.f('ix_usage_samples_site_id'))
        batch_op.drop_index(batch_op.f('ix_usage_samples_member_id'))
    op.drop_table('usage_samples')
