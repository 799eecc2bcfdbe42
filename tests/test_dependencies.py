"""pyproject.toml declares exactly what the code imports.

Every third-party module imported anywhere in ``livegan/`` (at the top or lazily inside a
function) belongs to a declared distribution (a dependency, or an extra for optional
features); every runtime dependency is imported by ``livegan/`` itself; and what only the
tests and tools import sits in the ``dev`` extra, not in the runtime list.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Distributions a declared one needs at run time without livegan importing them by name.
IMPORTED_BY_OTHERS = {"python-rtmidi"}  # mido's MIDI port backend


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """Group ('runtime' or an extra's name) -> normalised distribution names."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"runtime": project["dependencies"], **project.get("optional-dependencies", {})}
    return {g: {_norm(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]) for req in reqs} for g, reqs in groups.items()}


def _imported(folder: Path) -> set[str]:
    """Top-level names of absolute imports in ``folder``'s Python files (stdlib and local left out)."""
    local = {p.stem for p in folder.rglob("*.py")} | {"livegan", "conftest", "live_helpers", "bench_live"}
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


@cache
def _providers() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distribution(module: str) -> str:
    """The installed distribution that provides ``module`` (its own name when none is installed)."""
    dists = _providers().get(module)
    return _norm(dists[0]) if dists else _norm(module)


def test_every_import_in_livegan_is_declared():
    declared = _declared()
    everything = set().union(*declared.values())
    missing = {m: _distribution(m) for m in _imported(REPO / "livegan") if _distribution(m) not in everything}
    assert not missing, f"imported by livegan/ but not declared in pyproject.toml: {missing}"


def test_every_runtime_dependency_is_imported_by_livegan():
    used = {_distribution(m) for m in _imported(REPO / "livegan")}
    unused = _declared()["runtime"] - used
    assert not unused, f"declared as runtime dependencies but never imported by livegan/: {sorted(unused)}"


def test_test_and_tool_imports_are_in_the_dev_extra_not_the_runtime():
    declared = _declared()
    runtime_used = {_distribution(m) for m in _imported(REPO / "livegan")}
    extras = set().union(*(v for k, v in declared.items() if k != "runtime"))
    only_tests = {_distribution(m) for m in _imported(REPO / "tests")} - runtime_used
    assert only_tests <= declared["dev"] | extras, only_tests - declared["dev"] - extras
    assert not only_tests & declared["runtime"], only_tests & declared["runtime"]
    for group, names in declared.items():  # an extra's packages are imported somewhere (or needed by one)
        if group != "runtime":
            imported = runtime_used | only_tests | {_distribution(m) for m in _imported(REPO / "tools")}
            assert names - IMPORTED_BY_OTHERS <= imported, (group, names - imported)
