"""One notion of now and of new ids: nothing in ``src/civicloud`` reads the wall clock or draws an id on its own.

``civicloud/clock.py`` is the only module allowed to; everything else gets a ``Clock`` and an ``IdSource``
from the composition root (through the unit of work, or the ``Agent``'s constructor). ``time.monotonic`` and
``time.sleep`` are allowed only where a process waits (the hypervisor driver's shutdown timeout, the CLI's
polls), never where something is decided. ``time.perf_counter`` measures how long something took and is
allowed everywhere. The scan follows aliases (``from datetime import datetime as dt``, ``import time as t``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "civicloud"
CLOCK_MODULE = SRC / "clock.py"

# (module, attribute) pairs that read the wall clock or make an id.
WALL_CLOCK = {
    ("datetime.datetime", "now"), ("datetime.datetime", "utcnow"), ("datetime.datetime", "today"),
    ("datetime.date", "today"), ("time", "time"), ("time", "time_ns"), ("time", "localtime"), ("time", "gmtime"),
    ("uuid", "uuid1"), ("uuid", "uuid4"),
}
WAITING = {("time", "monotonic"), ("time", "monotonic_ns"), ("time", "sleep")}
# Modules that wait for something outside the process: a guest shutting down, a server or a state to come.
MAY_WAIT = ("agent/drivers/", "cli/")


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module or class it stands for (only the ones this test cares about)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("time", "uuid", "datetime"):
                    names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
            for alias in node.names:
                if alias.name in ("datetime", "date"):
                    names[alias.asname or alias.name] = f"datetime.{alias.name}"
    return names


def violations(path: Path, source: str | None = None) -> list[str]:
    source = path.read_text() if source is None else source
    tree = ast.parse(source)
    names = _aliases(tree)
    relative = path.relative_to(SRC).as_posix() if path.is_relative_to(SRC) else path.name
    may_wait = relative.startswith(MAY_WAIT)
    found = []

    def check(owner: str, attr: str, line: int) -> None:
        if (owner, attr) in WALL_CLOCK or ((owner, attr) in WAITING and not may_wait):
            found.append(f"{relative}:{line}: {owner}.{attr}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "uuid"):
            for alias in node.names:
                check(node.module, alias.name, node.lineno)
        elif isinstance(node, ast.Attribute):
            value = node.value
            if isinstance(value, ast.Name) and value.id in names:
                check(names[value.id], node.attr, node.lineno)
            elif isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) \
                    and names.get(value.value.id) == "datetime":  # datetime.datetime.now()
                check(f"datetime.{value.attr}", node.attr, node.lineno)
    return found


def test_no_module_but_the_clock_reads_the_wall_clock_or_makes_an_id() -> None:
    modules = sorted(p for p in SRC.rglob("*.py") if p != CLOCK_MODULE and "migrations" not in p.parts)
    assert len(modules) > 50  # the scan sees the code base
    found = [v for path in modules for v in violations(path)]
    assert found == [], ("read the clock and make ids through civicloud.clock (uow.clock(), uow.new_id(), or a "
                         "Clock/IdSource passed in); direct reads found:\n" + "\n".join(found))


def test_the_clock_module_is_where_the_reads_are() -> None:
    # The scan would find the clock module's own reads: it is not blind to them.
    assert {v.split(": ")[1] for v in violations(CLOCK_MODULE)} == {"datetime.datetime.now", "uuid.uuid4"}


@pytest.mark.parametrize("code", [
    "from datetime import UTC, datetime\nx = datetime.now(UTC)\n",
    "import datetime\nx = datetime.datetime.utcnow()\n",
    "from datetime import date as d\nx = d.today()\n",
    "import time as t\nx = t.time()\n",
    "import uuid\nx = uuid.uuid4()\n",
    "from uuid import uuid4\n",
    "from time import monotonic\n",
    "import time\ntime.sleep(1)\n",
])
def test_each_kind_of_direct_read_is_caught(code: str) -> None:
    assert violations(SRC / "services" / "example.py", code)


def test_waiting_is_allowed_where_a_process_waits_for_something_outside_it() -> None:
    code = "import time\ndeadline = time.monotonic() + 5\ntime.sleep(0.1)\n"
    assert violations(SRC / "agent" / "drivers" / "example.py", code) == []
    assert violations(SRC / "cli" / "example.py", code) == []
    assert violations(SRC / "agent" / "runner_example.py", code)
    assert violations(SRC / "cli" / "example.py", "from datetime import date\nx = date.today()\n")
