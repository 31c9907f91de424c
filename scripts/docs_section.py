"""Write a generated section into a page of docs/, between its markers (the scripts beside this one use it)."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def write_section(page_name: str, marker: str, content: str) -> None:
    """Replace what lies between ``<!-- marker:begin -->`` and ``<!-- marker:end -->`` in docs/``page_name``."""
    begin, end = f"<!-- {marker}:begin -->\n", f"<!-- {marker}:end -->\n"
    page = DOCS / page_name
    head, rest = page.read_text().split(begin)
    _old, tail = rest.split(end)
    page.write_text(head + begin + content + end + tail)
