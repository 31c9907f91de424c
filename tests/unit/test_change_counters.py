"""The control loop's cache trusts two change counters (``tables.revisions``, ``hosts.revision``): every
repository function that writes what it caches must move them. A new write that forgets fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import civicloud.store.repositories as repositories

CATALOGUE = {"members", "agreements", "sites", "certifications", "offers", "offerings", "placement_groups"}
WRITES = {"insert", "update", "delete"}


def _writes(fn: ast.AST, verbs: set[str] = WRITES) -> set[str]:
    """The tables ``fn`` writes with insert/update/delete(t.<table>) (those of ``verbs``)."""
    out = set()
    for node in ast.walk(fn):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in verbs
                and node.args and isinstance(node.args[0], ast.Attribute)
                and isinstance(node.args[0].value, ast.Name) and node.args[0].value.id == "t"):
            out.add(node.args[0].attr)
    return out


def _calls(fn: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
               for n in ast.walk(fn))


def _functions() -> list[tuple[str, ast.FunctionDef]]:
    out = []
    for path in sorted(Path(repositories.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                out.append((f"{path.name}:{node.name}", node))
    return out


def test_every_write_of_the_catalogue_moves_its_counter() -> None:
    functions = _functions()
    bumpers = {"bump_revision"}  # and the repositories' helpers that call it, directly or not
    while True:
        more = {fn.name for _w, fn in functions if any(_calls(fn, b) for b in bumpers)} - bumpers
        if not more:
            break
        bumpers |= more
    found = 0
    for where, fn in functions:
        if _writes(fn) & CATALOGUE:
            found += 1
            assert any(_calls(fn, b) for b in bumpers), f"{where} writes {_writes(fn) & CATALOGUE} without " \
                                                        "bump_revision"
    assert found >= 8  # members, agreements, sites, certifications, offers, offerings, groups: all seen


def test_every_update_of_a_host_moves_its_revision() -> None:
    for where, fn in _functions():
        if "hosts" in _writes(fn, {"update", "delete"}):
            assert where == "hosts.py:update_hosts", f"{where} updates hosts directly: use update_hosts"
    assert any(_calls(fn, "update_hosts") for _w, fn in _functions())


def test_the_check_sees_a_write_that_forgets() -> None:
    forgetful = ast.parse("def rename(self):\n    self._conn.execute(update(t.sites).values(name='x'))\n").body[0]
    assert _writes(forgetful) == {"sites"} and not _calls(forgetful, "bump_revision")
