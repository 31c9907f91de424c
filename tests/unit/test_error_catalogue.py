"""Every error code the source emits is in ``civicloud.error_codes``, with the kind of what raises it, and every
code there is still emitted somewhere (a renamed code would leave the old one behind: codes never change once
released, so a code no longer raised moves to ``RETIRED``, it is not deleted nor reused).

The source is read, not run: an AST scan of ``src/civicloud/**/*.py`` finds the codes emitted

- by constructing an error class (a ``CivicloudError`` subclass): its ``code=`` argument, else the class's
  own ``code`` (and a class attribute ``code = "…"`` is a code the class raises when given none);
- by ``NotFound.of(area, id)``: ``civicloud.<area>.not_found``, one code per area named at a call site;
- by answers the API writes itself (``error_json``, the middleware's ``_error``, ``_HTTP_CODES``), with the
  HTTP status they are sent with;
- by the sample rules (``Refusal(CODE, …)``, and the wire model's default code): ``SAMPLE_REFUSALS``.

A code must be spelled out where it is emitted — a literal, a module constant, a value of a module-level dict —
so that this scan and a reader with grep both find it. The few places that pass on a code made elsewhere
(``exc.code``, the server's code in the client) are listed in ``RELAYS``; the families built with an f-string
in ``FAMILIES``.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from civicloud.client import ApiError
from civicloud.error_codes import CATALOGUE, FAMILIES, RETIRED, SAMPLE_REFUSALS, STATUS, Surface, kind_of_status
from civicloud.errors import CivicloudError, ErrorKind

SRC = Path(__file__).resolve().parents[2] / "src" / "civicloud"
CODE = re.compile(r"civicloud(\.[a-z0-9_]+)+")
# Strings that look like codes and are not: a file name, a package, a key inside stored answers.
NOT_CODES = {"civicloud.db", "civicloud.domain", "civicloud.secret_shown_once"}
# Where a code made elsewhere is passed on: (module, the expression as written).
RELAYS = {
    ("api/errors.py", "exc.code"),  # a CivicloudError's own code
    ("api/errors.py", "code"),  # _HTTP_CODES' code of an HTTP status, or the civicloud.http.<status> family
    ("api/middleware.py", "exc.code"),  # the commit of a request failed with a CivicloudError: its own code
    ("client/http.py", "err['code']"),  # the server's code, in its answer
}
# f-strings that build codes, as their literal skeleton ({} for each value put in).
FAMILIES_BUILT = {
    "civicloud.{}.not_found": "NotFound.of(area, id): its expansions are the areas named at its call sites",
    "civicloud.http.{}": "an HTTP answer without a civicloud error body: documented as a family in FAMILIES",
}
# Functions that write an error answer themselves: name -> (index of the status argument, of the code argument).
ANSWER_WRITERS = {"error_json": (0, 1), "_error": (0, 1), "api_error": (0, 1)}
STATUS_TABLES = {"_HTTP_CODES"}  # module-level dicts {HTTP status: code} the API answers with


@dataclass(frozen=True)
class Emitted:
    code: str
    where: str  # module:line
    kind: ErrorKind | None = None  # of the class that raises it
    status: int | None = None  # the HTTP status it is answered with, where the source says it
    sample: bool = False  # a sample refusal, not an error


@dataclass(repr=False)  # a failure's report shows the findings it is about, not the whole scan
class Scan:
    emitted: list[Emitted]
    mentioned: list[tuple[str, str]]  # (code, where): every code-like literal, emitted or compared with
    unresolved: list[str]  # codes the scan cannot read: each needs spelling out (or a listed relay/family)
    skeletons: list[tuple[str, str]]  # (f-string skeleton, where)


def _modules() -> dict[str, ast.Module]:
    return {p.relative_to(SRC).as_posix(): ast.parse(p.read_text(), str(p)) for p in sorted(SRC.rglob("*.py"))}


def _error_classes(modules: dict[str, ast.Module]) -> dict[str, type[CivicloudError]]:
    """Every CivicloudError subclass defined in the package, by name (imported, so kind and code are Python's)."""
    defined = {node.name: path for path, tree in modules.items() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)}
    names, grew = {"CivicloudError"}, True
    while grew:
        grew = False
        for tree in modules.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        _name(b) in names for b in node.bases):
                    names.add(node.name)
                    grew = True
    classes = {}
    for name in names:
        module = importlib.import_module("civicloud." + defined[name].removesuffix(".py").replace("/", "."))
        classes[name] = getattr(module, name)
        assert issubclass(classes[name], CivicloudError), name
    return classes


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _constants(modules: dict[str, ast.Module]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Module-level string constants and the string values of module-level dict literals, by name."""
    strings: dict[str, set[str]] = {}
    dicts: dict[str, set[str]] = {}
    for tree in modules.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target, value = node.targets[0].id, node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    strings.setdefault(target, set()).add(value.value)
                elif isinstance(value, ast.Dict):
                    dicts.setdefault(target, set()).update(
                        v.value for v in value.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return strings, dicts


class _Resolver:
    def __init__(self, strings: dict[str, set[str]], dicts: dict[str, set[str]]) -> None:
        self.strings, self.dicts = strings, dicts

    def __call__(self, node: ast.expr) -> set[str] | None:
        """The strings ``node`` can be, read statically; None when it cannot be read."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Name) and len(self.strings.get(node.id, ())) == 1:
            return set(self.strings[node.id])
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in self.dicts:
            return set(self.dicts[node.value.id])
        if isinstance(node, ast.IfExp):
            a, b = self(node.body), self(node.orelse)
            return a | b if a is not None and b is not None else None
        if isinstance(node, ast.JoinedStr):
            parts: list[set[str]] = []
            for v in node.values:
                part = self(v.value) if isinstance(v, ast.FormattedValue) else {_literal(v)}
                if part is None:
                    return None
                parts.append(part)
            return {"".join(p) for p in itertools.product(*parts)}
        return None


def _literal(node: ast.expr) -> str:
    assert isinstance(node, ast.Constant), ast.unparse(node)
    return str(node.value)


def _skeleton(node: ast.JoinedStr) -> str:
    return "".join("{}" if isinstance(v, ast.FormattedValue) else _literal(v) for v in node.values)


def _docstrings(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


class _Scanner:
    def __init__(self) -> None:
        self.modules = _modules()
        self.classes = _error_classes(self.modules)
        self.resolve = _Resolver(*_constants(self.modules))
        self.result = Scan([], [], [], [])

    def run(self) -> Scan:
        for path, tree in self.modules.items():
            self.path = path
            docstrings = _docstrings(tree)
            for node in ast.walk(tree):
                self.where = f"{self.path}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                        and CODE.fullmatch(node.value) and node.value not in NOT_CODES:
                    self.result.mentioned.append((node.value, self.where))
                elif isinstance(node, ast.JoinedStr) and _skeleton(node).startswith("civicloud.") \
                        and CODE.fullmatch(_skeleton(node).replace("{}", "x")):
                    self.result.skeletons.append((_skeleton(node), self.where))
                elif isinstance(node, ast.ClassDef) and node.name in self.classes:
                    for stmt in node.body:
                        if isinstance(stmt, ast.Assign) and any(_name(t) == "code" for t in stmt.targets):
                            self.emit(stmt.value, kind=self.classes[node.name].kind)
                elif isinstance(node, ast.Assign) and any(_name(t) in STATUS_TABLES for t in node.targets) \
                        and isinstance(node.value, ast.Dict):
                    for k, v in zip(node.value.keys, node.value.values, strict=True):
                        assert isinstance(k, ast.Constant) and isinstance(k.value, int), self.where
                        self.emit(v, status=k.value)
                elif isinstance(node, ast.Call):
                    self.call(node)
        return self.result

    def emit(self, node: ast.expr, **facts: object) -> None:
        """Note the codes ``node`` can be, or that it cannot be read (unless it is a listed relay or family)."""
        found = self.resolve(node)
        if found is not None:
            self.result.emitted.extend(Emitted(code, self.where, **facts) for code in found)  # type: ignore[arg-type]
        elif (self.path, ast.unparse(node)) in RELAYS:
            return
        elif isinstance(node, ast.JoinedStr) and _skeleton(node) in FAMILIES_BUILT:
            return  # a family: its expansions are checked apart
        else:
            self.result.unresolved.append(f"{self.where}: {ast.unparse(node)}")

    def call(self, node: ast.Call) -> None:
        func = _name(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        if func == "of" and isinstance(node.func, ast.Attribute) and _name(node.func.value) in self.classes:
            cls = self.classes[_name(node.func.value)]  # type: ignore[index]
            areas = self.resolve(node.args[0])
            if areas is None:
                self.result.unresolved.append(f"{self.where}: NotFound.of({ast.unparse(node.args[0])}, …)")
            self.result.emitted.extend(Emitted(f"civicloud.{area}.not_found", self.where, cls.kind)
                                       for area in areas or ())
        elif func in self.classes:
            cls = self.classes[func]
            if "code" in keywords:
                self.emit(keywords["code"], kind=cls.kind)
            elif issubclass(cls, ApiError) and len(node.args) >= 2:
                self.emit(node.args[1], kind=cls.kind)  # ApiError(status, code, message, field)
            else:
                self.result.emitted.append(Emitted(cls.code, self.where, cls.kind))
        elif func in ANSWER_WRITERS and len(node.args) > max(ANSWER_WRITERS[func]):
            status_at, code_at = ANSWER_WRITERS[func]
            status = node.args[status_at]
            known = status.value if isinstance(status, ast.Constant) and isinstance(status.value, int) else None
            self.emit(node.args[code_at], status=known)
        elif func == "Refusal" and node.args:
            self.emit(node.args[0], sample=True)
        elif func == "Field" and "default" in keywords:
            for code in self.resolve(keywords["default"]) or ():
                if CODE.fullmatch(code) and code not in NOT_CODES:
                    self.result.emitted.append(Emitted(code, self.where, sample=code.startswith("civicloud.sample.")))


def scan() -> Scan:
    return _Scanner().run()


@pytest.fixture(scope="module")
def found() -> Scan:
    return scan()


def test_every_code_is_spelled_out_where_it_is_emitted(found: Scan) -> None:
    assert not found.unresolved, (
        "these codes cannot be read from the source; spell each out as a string literal (or a module constant) "
        "where it is raised, so the catalogue test and grep find it:\n" + "\n".join(found.unresolved))
    strays = [f"{where}: f\"{s}\"" for s, where in found.skeletons if s not in FAMILIES_BUILT]
    assert not strays, ("these f-strings build codes; spell each code out instead (or, for a real family, list it "
                        "in FAMILIES_BUILT with how its expansions are checked):\n" + "\n".join(strays))


def test_every_emitted_code_is_in_the_catalogue_with_the_kind_that_raises_it(found: Scan) -> None:
    problems = []
    for e in found.emitted:
        table = SAMPLE_REFUSALS if e.sample else CATALOGUE
        if e.code not in table:
            table_name = "SAMPLE_REFUSALS" if e.sample else "CATALOGUE"
            problems.append(f"{e.where}: {e.code} is not in error_codes.{table_name}"
                            + (" (it is RETIRED: a retired code is never raised again)" if e.code in RETIRED else ""))
            continue
        if e.sample:
            continue
        entry = CATALOGUE[e.code]
        if e.kind is not None and entry.kind is not e.kind:
            problems.append(f"{e.where}: {e.code} is raised as {e.kind.value}, the catalogue says {entry.kind.value}")
        if e.status is not None and (entry.http_status != e.status or entry.surface is not Surface.API):
            problems.append(f"{e.where}: {e.code} is answered with {e.status}, the catalogue says "
                            f"{entry.http_status} ({entry.surface.value})")
    assert not problems, "\n".join(problems)


def test_every_code_mentioned_is_known(found: Scan) -> None:
    unknown = [f"{where}: {code}" for code, where in found.mentioned
               if code not in CATALOGUE and code not in SAMPLE_REFUSALS and code not in RETIRED]
    assert not unknown, "codes in the source that no catalogue knows:\n" + "\n".join(unknown)


def test_every_catalogue_code_is_still_emitted(found: Scan) -> None:
    emitted = {e.code for e in found.emitted}
    unraised = sorted((set(CATALOGUE) | set(SAMPLE_REFUSALS)) - emitted)
    assert not unraised, (f"{unraised} are in the catalogue and raised nowhere: if a code was renamed, raise the "
                          "old one again (codes never change once released); if it is no longer raised at all, "
                          "move it to error_codes.RETIRED")


def test_not_found_family_expansions_are_catalogued(found: Scan) -> None:
    areas = {e.code for e in found.emitted if e.code.endswith(".not_found") and e.kind is ErrorKind.NOT_FOUND}
    assert areas and areas <= set(CATALOGUE)
    assert "civicloud.http.<status>" in FAMILIES


def test_the_catalogue_is_consistent() -> None:
    assert not (set(CATALOGUE) | set(SAMPLE_REFUSALS)) & RETIRED
    assert not set(CATALOGUE) & set(SAMPLE_REFUSALS)
    for key, entry in CATALOGUE.items():
        assert entry.code == key and CODE.fullmatch(key), key
        assert entry.summary and "\n" not in entry.summary, key
        # the client rebuilds the kind from the status: each code must come back as its own kind
        if entry.surface is Surface.API:
            assert kind_of_status(entry.http_status) is entry.kind, key
    for key, refusal in SAMPLE_REFUSALS.items():
        assert refusal.code == key and key.startswith("civicloud.sample.") and refusal.summary, key
    assert set(STATUS) == set(ErrorKind)
    assert all(kind_of_status(status) is kind for kind, status in STATUS.items())


def test_the_catalogue_is_pure() -> None:
    """error_codes is read by the API, the client, the docs script and this test: it imports only errors."""
    tree = ast.parse((SRC / "error_codes.py").read_text())
    imported: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert imported <= {"__future__", "dataclasses", "enum", "civicloud.errors"}, imported
