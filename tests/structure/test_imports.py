"""The import graph of our packages has no cycle (a function-level import counts: hiding a
cycle inside a function does not remove it), and every task enqueued by name exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
from celery import current_app

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "config",
    "dashboard",
    "accounts",
    "core",
    "providers",
    "numbers",
    "outbound",
    "messaging",
    "calls",
    "billing",
)
SANDBOX = ("sandbox",)


def cycles(graph, packages: tuple[str, ...]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] in packages)
    edges = {
        m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n.split(".")[0] in packages)
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycle_between_our_modules():
    # Imports under `if TYPE_CHECKING:` never run, so they cannot make a cycle.
    graph = grimp.build_graph(*PACKAGES, *SANDBOX, exclude_type_checking_imports=True, cache_dir=None)

    assert cycles(graph, PACKAGES + SANDBOX) == []


def test_the_cycle_check_finds_a_cycle():
    class Graph:
        modules = {"a.x", "a.y", "a.z"}

        @staticmethod
        def find_modules_directly_imported_by(module):
            return {"a.x": {"a.y"}, "a.y": {"a.x"}, "a.z": {"a.x"}}[module]

    assert cycles(Graph, ("a",)) == [["a.x", "a.y"]]


def test_every_task_enqueued_by_name_is_a_registered_task():
    names = {
        name
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for name in re.findall(r"queue_task\(\s*\"([\w.]+)\"", path.read_text())
    }
    current_app.loader.import_default_modules()

    assert names, "no task is enqueued by name: the check looks for the wrong call"
    assert sorted(names - set(current_app.tasks)) == []


def _function_level_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Imports inside a function body, other than an AppConfig.ready() (Django's place for
    registering signal receivers, importers and purge steps)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "ready":
            found += [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
    return found


def _ours(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in PACKAGES + SANDBOX
    return any(alias.name.split(".")[0] in PACKAGES + SANDBOX for alias in node.names)


def test_no_function_level_import_of_our_own_modules():
    # "No function-level import to dodge a cycle": if two modules need each other, one of
    # them is in the wrong place (tasks import services; services enqueue by task name).
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in PACKAGES + SANDBOX
        for path in sorted((ROOT / package).rglob("*.py"))
        if "/migrations/" not in str(path) and "/management/" not in str(path)
        for node in _function_level_imports(ast.parse(path.read_text()))
        if _ours(node)
    ]

    assert found == []


def test_the_function_level_check_sees_one_and_leaves_ready_alone():
    tree = ast.parse(
        "def enqueue():\n    from .tasks import send\n\n"
        "class Config:\n    def ready(self):\n        from .importers import upsert\n"
    )

    assert [(n.module, n.lineno) for n in _function_level_imports(tree) if _ours(n)] == [("tasks", 2)]
