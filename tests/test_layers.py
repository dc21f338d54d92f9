"""Imports run one way: no circle between files, and no import back up the layers of folders.

Every import counts, wherever it is written: at the top of a module, inside a function (a
deferred import is still a dependency, only hidden), under ``if TYPE_CHECKING:``. Importing a
module does not count as importing its parent packages (``__init__`` files hold no code
here). Strings that name modules (``INSTALLED_APPS``, ``include("xero.urls")``, the
``AXES_*_CALLABLE`` settings) are configuration Django reads at start-up, not imports.
"""

import ast
import dataclasses
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

# The project's packages, bottom first. A module may import its own package and the ones
# listed before it, never one listed after it.
LAYERS = (
    # The foundation: settings, the database's rules, encryption keys, client addresses,
    # durations, the commands' plain errors, signals. It names the apps only in settings.
    "warehouse",
    # Sites, their encrypted fields and the audit trail.
    "sites",
    # The outbox: every email a row, sent by a task with retries (EMAIL_BACKEND).
    "outbox",
    # Who may sign in: the second factor, recovery codes, lockouts, the admin site's gate.
    "accounts",
    # Customers' memberships and invitations, and the fence around what they may see.
    "customers",
    # Xero: certificates, connection types, connection tests, fleet health.
    "xero",
    # The Interconnect API: machine credentials, status, tokens and signatures, webhooks.
    "api",
    # What an operator's tools ask (probes, metrics, restore_check) and the workers'
    # heartbeats: it reads every app; xero tells it of tests and calls by signals.
    "operations",
)


@dataclasses.dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _nearest(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(root: Path, packages: tuple[str, ...]) -> list[Import]:
    """Every import between the modules of ``packages``, function-level ones included."""
    known = modules(root, packages)
    found: dict[tuple[str, str, int], Import] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # ``from package import module`` imports the module; ``from module import
                # name`` the module that holds the name.
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                    for alias in node.names
                ]
            for target in targets:
                imported = _nearest(target, known)
                if imported is not None and imported != name:
                    found[name, imported, node.lineno] = Import(name, imported, path, node.lineno)
    return list(found.values())


def circles(edges: list[Import]) -> list[list[str]]:
    """The import circles among modules (strongly connected components of two or more)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def circle_report(edges: list[Import], root: Path) -> list[str]:
    """One line per import that closes a circle: file, line, importer → imported."""
    lines = []
    for component in circles(edges):
        members = set(component)
        lines.append("circle: " + " ↔ ".join(component))
        lines += [
            f"  {edge.where(root)}: {edge.importer} imports {edge.imported}"
            for edge in edges
            if edge.importer in members and edge.imported in members
        ]
    return lines


def upward_imports(edges: list[Import], layers: tuple[str, ...], root: Path) -> list[str]:
    """One line per import from a package to one declared above it."""
    rank = {package: number for number, package in enumerate(layers)}
    return [
        f"{edge.where(root)}: {edge.importer} imports {edge.imported}, a layer above "
        f"(layers, bottom first: {', '.join(layers)})"
        for edge in edges
        if rank[edge.imported.split(".")[0]] > rank[edge.importer.split(".")[0]]
    ]


def test_no_module_imports_another_that_imports_it_back():
    report = circle_report(imports(ROOT, LAYERS), ROOT)
    assert not report, "Import circles:\n" + "\n".join(report)


def test_no_package_imports_one_above_it():
    report = upward_imports(imports(ROOT, LAYERS), LAYERS, ROOT)
    assert not report, "Imports that run back up:\n" + "\n".join(report)


def test_every_app_of_ours_has_its_place_in_the_layers():
    ours = {
        app.split(".")[0]
        for app in settings.INSTALLED_APPS
        if (ROOT / app.split(".")[0] / "__init__.py").exists()
    }
    assert ours <= set(LAYERS)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def tree(tmp_path):
    _write(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/a.py": "from . import b\n",
            # The deferred import inside a function still closes the circle.
            "low/b.py": "def later():\n    from low.a import thing\n",
            "low/c.py": "from .b import later\n",
            "high/__init__.py": "",
            "high/d.py": "from low import c\n",
        },
    )
    return tmp_path


def test_a_deferred_import_inside_a_function_closes_a_circle(tree):
    report = circle_report(imports(tree, ("low", "high")), tree)
    assert report[0] == "circle: low.a ↔ low.b"
    assert "  low/b.py:2: low.b imports low.a" in report


def test_an_import_back_up_the_layers_is_named_with_its_file_and_line(tree):
    _write(tree, {"low/e.py": "import high.d\n"})
    edges = imports(tree, ("low", "high"))
    assert upward_imports(edges, ("high", "low"), tree) == [
        "high/d.py:1: high.d imports low.c, a layer above (layers, bottom first: high, low)"
    ]
    assert upward_imports(edges, ("low", "high"), tree) == [
        "low/e.py:1: low.e imports high.d, a layer above (layers, bottom first: low, high)"
    ]
