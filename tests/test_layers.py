"""The layout holds: the scoring library and the operations layer import no web framework,
the entry points (API, pages, webhooks) do not import each other's views, and no module
imports one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "grader"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Modules path imports (relative imports resolved), at module level or anywhere."""
    tree = ast.parse(path.read_text())
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


MODULES = {_module(p): p for p in PACKAGE.rglob("*.py")}


def _deps(name: str, top_level_only: bool = True) -> set[str]:
    return {m for m in _imports(MODULES[name], top_level_only) if m in MODULES and m != name}


# The entry points: the JSON API, the pages, and the webhooks' own views, commands and tasks
# (the webhooks' models, signing and URL checks are a library the operations may use).
_ENTRY_POINTS = (
    "grader.service.api",
    "grader.service.web",
    "grader.service.webhooks.admin",
    "grader.service.webhooks.inbound",
    "grader.service.webhooks.commands",
    "grader.service.webhooks.tasks",
)


def _entry_point(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _ENTRY_POINTS)


def test_scoring_and_operations_import_no_web_framework_or_queue():
    for name, path in MODULES.items():
        if name.startswith(("grader.scoring", "grader.service.operations")):
            imported = _imports(path, top_level_only=False)
            bad = {m for m in imported if m.split(".")[0] in {"flask", "celery", "kombu"}}
            bad |= {m for m in imported if _entry_point(m)}
            assert not bad, f"{name} imports {sorted(bad)}"


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_pages_and_api_do_not_import_each_other():
    web, api = "grader.service.web", "grader.service.api"
    for name in MODULES:
        deps = _deps(name, top_level_only=False)
        if _in(name, web):
            assert not {d for d in deps if _in(d, api)}, name
        if _in(name, api):
            assert not {d for d in deps if _in(d, web)}, name


def test_no_import_cycles():
    graph = {name: _deps(name, top_level_only=False) for name in MODULES}
    # A package's __init__ importing its own modules (to register routes) is not a cycle.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :] + [dep]
                raise AssertionError(" -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_a_long_module_says_why_at_its_top():
    """No module over ~400 lines without a reason written at its top."""
    for name, path in MODULES.items():
        text = path.read_text()
        if text.count("\n") > 400:
            doc = ast.get_docstring(ast.parse(text)) or ""
            assert "Long because:" in doc, f"{name} has {text.count(chr(10))} lines and no reason"
