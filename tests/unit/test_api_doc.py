"""docs/api.md's error tables are the catalogue's: regenerate them with scripts/error_table.py when codes change."""

from __future__ import annotations

from pathlib import Path

from civicloud.error_codes import CATALOGUE, SAMPLE_REFUSALS, error_table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_error_tables_in_the_docs_are_generated_from_the_catalogue() -> None:
    text = PAGE.read_text()
    table = text.split("<!-- error-table:begin -->\n")[1].split("<!-- error-table:end -->")[0]
    assert table == error_table(), "docs/api.md is out of date: run .venv/bin/python scripts/error_table.py"
    assert all(f"| `{code}` |" in table for code in [*CATALOGUE, *SAMPLE_REFUSALS])  # every code has its row
