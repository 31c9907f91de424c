"""Write the roles × routes table into docs/security.md, between its markers, from services/access.py."""

from __future__ import annotations

import sys
from pathlib import Path

from civicloud.api.operations import roles_table

BEGIN, END = "<!-- roles-table:begin -->\n", "<!-- roles-table:end -->\n"


def main() -> int:
    page = Path(__file__).resolve().parent.parent / "docs" / "security.md"
    text = page.read_text()
    head, rest = text.split(BEGIN)
    _old, tail = rest.split(END)
    page.write_text(head + BEGIN + roles_table() + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
