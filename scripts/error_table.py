"""Write the error codes' tables into docs/api.md, between its markers, from civicloud/error_codes.py."""

from __future__ import annotations

import sys
from pathlib import Path

from civicloud.error_codes import error_table

BEGIN, END = "<!-- error-table:begin -->\n", "<!-- error-table:end -->\n"


def main() -> int:
    page = Path(__file__).resolve().parent.parent / "docs" / "api.md"
    text = page.read_text()
    head, rest = text.split(BEGIN)
    _old, tail = rest.split(END)
    page.write_text(head + BEGIN + error_table() + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
