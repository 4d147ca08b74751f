"""What the project's code imports from outside the standard library and the project, and which
installed distribution provides each module (for the requirements and the runtime image's checks)."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

__all__ = ["ROOT", "normalize", "pinned_names", "third_party_imports", "providers"]

ROOT = Path(__file__).resolve().parents[1]


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``ruamel.yaml`` -> ``ruamel-yaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names(path: Path) -> set[str]:
    """The distributions a requirements file names (extras, pins and comments dropped)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(normalize(re.split(r"[\[=<>~!;@ ]", line, maxsplit=1)[0]))
    return names


def _project_names() -> set[str]:
    """Top-level names the project itself provides: its folders of modules (packages and namespace
    packages such as ``bench``) and its root modules."""
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.py"))}
    return folders | {p.stem for p in ROOT.glob("*.py")}


def _is_local(top: str, source: Path) -> bool:
    """A module beside the importing file (a script run with its own folder on the path)."""
    return (source.parent / f"{top}.py").is_file() or (source.parent / top / "__init__.py").is_file()


def _imported(tree: ast.AST) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if "." in node.module:
                yield node.module
            else:  # ``from google import protobuf``: the namespace package's portion is the name
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def third_party_imports(*folders: str) -> dict[str, set[str]]:
    """Every module imported (anywhere in a file, lazily too) by the ``.py`` files under
    ``folders`` (paths from the repository root) that is neither standard library nor the
    project's -> the files that import it."""
    project = _project_names() | {"__future__"}
    found: dict[str, set[str]] = {}
    for folder in folders:
        root = ROOT / folder
        for path in [root] if root.suffix == ".py" else sorted(root.rglob("*.py")):
            for module in _imported(ast.parse(path.read_text(), str(path))):
                top = module.split(".", 1)[0]
                if top in sys.stdlib_module_names or top in project or _is_local(top, path):
                    continue
                found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def _by_top_level() -> Mapping[str, list[str]]:
    return packages_distributions()


@cache
def _namespace(top: str) -> bool:
    spec = importlib.util.find_spec(top)
    return spec is not None and spec.origin is None


def providers(module: str) -> set[str]:
    """The installed distributions (normalized names) whose files provide ``module``: by its
    top-level name, or, for a namespace package such as ``google``, by its portion
    (``google.protobuf`` -> protobuf). Empty when nothing installed provides it."""
    top, _, rest = module.partition(".")
    names = _by_top_level().get(top, [])
    if rest and _namespace(top):
        portion = rest.split(".", 1)[0]
        names = [
            n
            for n in names
            if any(f.parts[:2] in ((top, portion), (top, f"{portion}.py")) for f in distribution(n).files or ())
        ]
    return {normalize(n) for n in names}
