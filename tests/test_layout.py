"""The architecture, held against the code: imports point one way (no cycle, counting imports
inside functions and modules named to importlib), no module over 500 lines, SQL only in
opsd/store, and a check catalog true to the modules' @check registrations."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from opsd.checks import KIND_MODULES
from opsd.checks.base import REGISTRY

PACKAGE = Path(__file__).resolve().parent.parent / "opsd"
MAX_LINES = 500
# A statement that hands SQL to SQLite: execute/executemany/executescript/query("SELECT ...").
_SQL_CALL = re.compile(
    r"\.(execute|executemany|executescript|query)\(\s*f?[\"'](\s*)(SELECT|INSERT|UPDATE|DELETE|"
    r"CREATE|ALTER|DROP|BEGIN|PRAGMA|WITH)",
    re.IGNORECASE,
)


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The opsd module `name` refers to (a module, or the module defining an attribute)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(sub) for sub in ast.walk(node))
    return skipped


def import_graph() -> dict[str, set[str]]:
    """opsd module -> the opsd modules it imports, wherever the import statement is."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        source = path.read_text()
        tree = ast.parse(source)
        skipped = _type_checking_nodes(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            for target in _targets(node, package, known, uses_importlib="importlib" in source):
                if target != name:
                    graph[name].add(target)
    return graph


def _targets(node: ast.AST, package: str, known: dict[str, Path], *, uses_importlib: bool):
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (found := resolve(alias.name, known)) is not None:
                yield found
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            found = resolve(f"{base}.{alias.name}", known) if base else None
            if found is not None:
                yield found
    elif (uses_importlib and isinstance(node, ast.Constant) and isinstance(node.value, str)
          and node.value.split(":")[0] in known):
        yield node.value.split(":")[0]  # "opsd.checks.notion", "opsd.cli.core:cmd_status"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert graph["opsd.checks"] >= {"opsd.checks.notion"}  # importlib edges are counted
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_config_imports_nothing_above_it() -> None:
    graph = import_graph()
    allowed = {"opsd.config", "opsd.errors", "opsd.results", "opsd.durations", "opsd.cron",
               "opsd.selectors", "opsd.redact"}
    reached = set()
    pending = [m for m in graph if m.startswith("opsd.config")]
    while pending:
        module = pending.pop()
        for target in graph.get(module, ()):
            if target not in reached:
                reached.add(target)
                pending.append(target)
    above = {m for m in reached if not m.startswith("opsd.config") and m not in allowed}
    assert above == set()


def test_core_code_imports_no_display_code() -> None:
    graph = import_graph()
    core = [m for m in graph if not m.startswith(("opsd.cli", "opsd.__main__"))]
    assert {m: sorted(t for t in graph[m] if t.startswith("opsd.cli")) for m in core
            if any(t.startswith("opsd.cli") for t in graph[m])} == {}


def test_no_module_is_over_500_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def sql_calls(source: str) -> list[int]:
    """Line numbers of calls that hand literal SQL to SQLite, even across lines."""
    return [source.count("\n", 0, match.start()) + 1 for match in _SQL_CALL.finditer(source)]


def test_sql_lives_only_in_the_store_package() -> None:
    # (`sqlite://` counter sources run the user's own query, a variable, on the user's own
    # database: not opsd's store, and not SQL written here.)
    outside = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "store" and "sandbox" not in path.parts
        for number in sql_calls(path.read_text())
    ]
    assert outside == []


def test_the_sql_detector_sees_sql() -> None:
    assert sql_calls('x = 1\nconn.execute(\n    "SELECT 1"\n)') == [2]
    assert sql_calls("store.query(f'INSERT INTO t VALUES (?)')") == [1]
    assert sql_calls("client.query(path, body)") == []


def test_the_check_catalog_names_every_kind_where_it_is_registered() -> None:
    for kind, module in KIND_MODULES.items():
        __import__(module)
        assert REGISTRY[kind].func.__module__ == module, kind
    builtin = {k for k, v in REGISTRY.items() if v.func.__module__.startswith("opsd.checks.")}
    assert builtin == set(KIND_MODULES)
