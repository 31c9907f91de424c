"""Write the error codes' tables into docs/api.md, between its markers, from civicloud/error_codes.py."""

from __future__ import annotations

from civicloud.error_codes import error_table

from docs_section import write_section

if __name__ == "__main__":
    write_section("api.md", "error-table", error_table())
