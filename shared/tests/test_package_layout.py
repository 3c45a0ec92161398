"""The shared package shows its parts: a service's entry points and Django's places at the top, the rest
in subpackages, each saying in one paragraph what it holds, and no module importing one that imports it."""

import ast
from pathlib import Path

import sso_shared

PACKAGE = Path(sso_shared.__file__).parent
# A service's entry points, and where Django looks for an app's parts by name.
TOP_LEVEL = {
    "__init__.py", "admin.py", "apps.py", "cli.py", "gunicorn_defaults.py", "models.py", "settings.py",
    "testing.py", "urls.py", "management", "migrations", "static", "templates",
}  # fmt: skip
PARTS = {
    "access", "accounts", "added_services", "adoption", "agreement", "database", "environment", "login_protection",
    "operations", "second_factor", "sessions",
}  # fmt: skip
DJANGO_FOLDERS = {"management", "migrations", "templates", "static"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules this one imports, at its top or inside a function alike."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in known and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_top_level_holds_only_entry_points_and_what_django_looks_for():
    entries = {path.name for path in PACKAGE.iterdir() if path.name != "__pycache__"}
    assert entries - PARTS == TOP_LEVEL


def test_each_part_says_what_it_holds_in_one_paragraph():
    for part in sorted(PARTS):
        docstring = ast.get_docstring(ast.parse((PACKAGE / part / "__init__.py").read_text()))
        assert docstring, f"sso_shared.{part} has no docstring"
        assert "\n\n" not in docstring.strip(), f"sso_shared.{part}'s docstring is more than one paragraph"


def test_every_folder_of_modules_is_a_package():
    for folder in PACKAGE.rglob("*"):
        if folder.is_dir() and any(folder.glob("*.py")) and not DJANGO_FOLDERS & set(folder.parts):
            assert (folder / "__init__.py").exists(), folder


def test_no_module_imports_one_that_imports_it_back():
    found = modules()
    graph = {name: imported_modules(name, path, set(found)) for name, path in found.items()}
    assert "sso_shared.operations.audit" in graph["sso_shared.models"]  # the graph sees imports
    assert cycles(graph) == []
