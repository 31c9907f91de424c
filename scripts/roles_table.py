"""Write the roles × routes table into docs/security.md, between its markers, from api/operations.py."""

from __future__ import annotations

from civicloud.api.operations import roles_table

from docs_section import write_section

if __name__ == "__main__":
    write_section("security.md", "roles-table", roles_table())
