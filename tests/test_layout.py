"""The package's import graph has no cycles, and `reconciler --help` stays light.

Import-linter checks the layers between packages (`make lint`); this checks what layers
cannot see: that no module imports itself back through others, even within one layer.
"""

from __future__ import annotations

import subprocess
import sys

import grimp


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    modules = sorted(m for m in graph.modules if m.startswith("reconciler"))
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith("reconciler"):
                continue
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in modules:
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("reconciler")
    # A package imports the modules it re-exports, and they import its siblings: that is
    # the package's own namespace, not a cycle between ideas.
    for package in ("reconciler.backends", "reconciler.targets", "reconciler.sdk"):
        for module in graph.find_modules_directly_imported_by(package):
            graph.remove_import(importer=package, imported=module)
    for parent in ("reconciler",):
        for module in list(graph.find_modules_directly_imported_by(parent)):
            graph.remove_import(importer=parent, imported=module)
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_help_imports_no_heavy_library() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "from reconciler import cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['--help'])\n"
        "heavy = {'boto3', 'botocore', 'kubernetes', 'pydantic', 'deepdiff', 'yaml_rs'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
