"""the default security group lets its own ports in

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

Security groups are enforced on the hosts from this version: a port's ingress is what its groups' ingress rules
let in. A member's `default` group made before held one rule (all egress) and meant "ingress from the port's own
network"; that is now a rule of its own, as in OpenStack: ingress, any protocol, from the ports of the `default`
group itself. Each default group without such a rule gets it, after its last rule. Nothing to undo on downgrade
but the rules added (their ids are deterministic: 'default-in-' and the group's id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    groups = conn.execute(sa.text(
        "SELECT g.id, (SELECT COALESCE(MAX(r.position), -1) FROM security_group_rules r WHERE r.group_id = g.id) "
        "FROM security_groups g WHERE g.name = 'default' AND NOT EXISTS (SELECT 1 FROM security_group_rules s "
        "WHERE s.group_id = g.id AND s.direction = 'ingress' AND s.remote_group_id = g.id)")).all()
    for group_id, last in groups:
        conn.execute(sa.text(
            "INSERT INTO security_group_rules (id, group_id, direction, protocol, port_min, port_max, remote_cidr, "
            "remote_group_id, position) VALUES (:id, :g, 'ingress', 'any', NULL, NULL, NULL, :g, :p)"),
            {"id": f"default-in-{group_id}"[:36], "g": group_id, "p": int(last) + 1})


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM security_group_rules WHERE id LIKE 'default-in-%'"))
