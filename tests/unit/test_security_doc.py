"""docs/security.md's roles table is the code's: regenerate it with scripts/roles_table.py when rules change."""

from __future__ import annotations

from pathlib import Path

from civicloud.api.operations import roles_table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_roles_table_in_the_docs_is_generated_from_the_rules() -> None:
    text = PAGE.read_text()
    table = text.split("<!-- roles-table:begin -->\n")[1].split("<!-- roles-table:end -->")[0]
    assert table == roles_table(), "docs/security.md is out of date: run .venv/bin/python scripts/roles_table.py"
    assert table.count("\n") >= 50  # every route has its row
