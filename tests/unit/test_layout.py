"""The house rules of the layout, read from the source with ``ast`` (no module is imported).

* no import circle between modules;
* imports run one way between the top packages: ``reports -> backtest -> strategies``,
  and ``backtest.feed`` (and ``backtest.runner``, which reads through it) ``-> warehouse``;
  ``strategies`` and ``warehouse`` import none of the others; command-line entry points
  (``*/cli.py``, ``*/__main__.py``) sit above all and may import anything, but nothing
  else imports them; the Python API (``backtest.api``) sits above the layers too, and
  imports ``reports`` in one place only (``Result.report`` -> ``reports.run_files``);
* no module over 400 lines;
* every package ``__init__`` says in its docstring what the package is for.

Every import counts, also one inside a function or under ``if TYPE_CHECKING:``: a
deferred import hides a dependency, it does not remove it.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backtest", "strategies", "warehouse", "reports")
MAX_LINES = 400
SIZED = (*PACKAGES, "tests", "benchmarks")  # the folders whose modules must stay under MAX_LINES

# Which top packages each top package may import (besides itself).
ALLOWED = {
    "reports": {"backtest", "strategies"},
    "backtest": {"strategies", "warehouse"},
    "strategies": set(),
    "warehouse": set(),
}
# The only modules of backtest that may import warehouse: the feed, and the runner that reads through it.
WAREHOUSE_GATES = ("backtest.feed", "backtest.runner")
# Upward imports allowed one by one: the Python API (an entry point like the CLI) writes a run's report.
ABOVE_LAYERS = {("backtest.api", "reports.run_files")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the four packages by dotted name."""
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _resolve(name: str) -> str | None:
    """The longest prefix of ``name`` that is one of our modules (None: not ours)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules():
            return candidate
        parts.pop()
    return None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Our modules that one import statement reaches (``from a import b`` reaches ``a.b`` when that is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: up from this module's package
            package = module if _is_package(module) else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]
    return [target for target in map(_resolve, names) if target is not None and target != module]


@cache
def imports() -> dict[str, set[str]]:
    """Module -> our modules it imports (anywhere in its body)."""
    graph = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[name] = {target for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                       for target in _targets(name, node)}
    return graph


def is_entry_point(name: str) -> bool:
    """A command-line entry point: ``*/cli.py`` or ``*/__main__.py``."""
    return name.rsplit(".", 1)[-1] in ("cli", "__main__")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None.

    >>> find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    ['a', 'b', 'c', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_circle():
    graph = {name: set(targets) for name, targets in imports().items()}
    cycles = []
    while (cycle := find_cycle(graph)) is not None:  # each found circle is cut at its first edge, to name them all
        cycles.append(" -> ".join(cycle))
        graph[cycle[0]].discard(cycle[1])
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_imports_run_one_way():
    wrong = []
    for source, targets in sorted(imports().items()):
        top = source.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if is_entry_point(target) and not is_entry_point(source):
                wrong.append(f"{source} -> {target} (an entry point; only entry points import entry points)")
            elif is_entry_point(source) or other == top or (source, target) in ABOVE_LAYERS:
                continue
            elif other not in ALLOWED[top]:
                wrong.append(f"{source} -> {target} ({top} must not import {other})")
            elif other == "warehouse" and top == "backtest" and not any(
                    source == gate or source.startswith(gate + ".") for gate in WAREHOUSE_GATES):
                wrong.append(f"{source} -> {target} (only {', '.join(WAREHOUSE_GATES)} read the warehouse)")
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


def test_no_module_over_400_lines():
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
             for folder in SIZED for path in (ROOT / folder).rglob("*.py")}
    over = sorted(f"{name}: {lines} lines" for name, lines in sizes.items() if lines > MAX_LINES)
    assert not over, f"modules over {MAX_LINES} lines:\n" + "\n".join(over)


@pytest.mark.parametrize("package", sorted(name for name in modules() if _is_package(name)))
def test_every_package_says_what_it_is_for(package):
    doc = ast.get_docstring(ast.parse(modules()[package].read_text())) or ""
    says_something = doc.strip().rstrip(".").upper() not in ("", "TODO")
    assert says_something, f"{modules()[package].relative_to(ROOT)}: no docstring saying what the package is for"
