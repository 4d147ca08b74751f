"""The files that share a session fixture too costly to make twice go to one test worker."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import SHARED_SCOPES

ROOT = Path(__file__).resolve().parents[1]
SESSION_REGISTRY = {"seeded_registry", "registry"}  # tests/runtime/registry/conftest.py


def _uses(path: Path, fixtures: set[str]) -> bool:
    """Whether a function in ``path`` takes one of ``fixtures``, or a fixture of the file that does."""
    functions = [
        n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    wanted = set(fixtures)
    while True:
        takers = {f.name for f in functions if wanted & {a.arg for a in f.args.args}}
        if takers <= wanted:
            return any(f.name.startswith("test") for f in functions if f.name in takers)
        wanted |= takers


def test_every_file_using_the_session_registry_shares_one_scope() -> None:
    users = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests/runtime/registry").glob("test_*.py")
        if _uses(p, SESSION_REGISTRY)
    )
    assert users, "no file uses the session registry: the check looks in the wrong place"
    assert {SHARED_SCOPES.get(u) for u in users} == {"the session registry server"}, users


def test_the_scheduler_maps_a_shared_file_and_leaves_the_others_alone() -> None:
    from xdist.scheduler import LoadFileScheduling

    from tests import conftest

    class Config:
        def getoption(self, name: str) -> str:
            return "loadfile"

        def getvalue(self, name: str) -> list[str]:
            return ["2*popen"]  # --tx, as -n 2 sets it

    config = Config()
    scheduler = conftest.pytest_xdist_make_scheduler(config, None)  # type: ignore[arg-type]
    assert isinstance(scheduler, LoadFileScheduling)
    split = scheduler._split_scope
    assert split("tests/runtime/registry/test_lock.py::test_x[a]") == split(
        "tests/runtime/registry/test_register.py::t"
    )
    assert split("tests/cli/test_up.py::test_y") == "tests/cli/test_up.py"
