"""Per-feature drift tests: the one registry of their names, and pure functions in one module each.

``STATTESTS`` is the only list of drift tests: the spec checks ``drift.features.<name>.test`` and
its options against it, the detector picks and runs tests from it, and every message that lists
the tests is built from it. Each entry says what the test reads from a window (samples or
counts), which column kinds it applies to, whether it yields a p-value or a distance, its default
threshold and its options. The function lives in the module of the same name
(``stattests/<name>.py`` defines ``<name>(reference, current, threshold, **options)``) and is
imported when first run, so that the spec, which imports this registry, loads neither numpy nor
scipy. Adding a test is one module and one line below.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from runtime.drift.stattests.result import TestResult

__all__ = [
    "TestResult",
    "StatTest",
    "Option",
    "ColumnKind",
    "STATTESTS",
    "DEFAULT_TESTS",
    "NUMERIC",
    "CATEGORICAL",
    "ANY_COLUMN",
    "expected_tests",
    "for_column",
]

ColumnKind = Literal["numeric", "categorical"]
"""Kinds of reference-profile columns (image inputs become numeric columns of image statistics)."""
NUMERIC: frozenset[ColumnKind] = frozenset({"numeric"})
CATEGORICAL: frozenset[ColumnKind] = frozenset({"categorical"})
ANY_COLUMN: frozenset[ColumnKind] = NUMERIC | CATEGORICAL


@dataclass(frozen=True)
class Option:
    """A number a stack file may set per feature (``features.<name>.options.<option>``)."""

    name: str
    """As in the stack file (camelCase); the function takes it in snake_case."""
    default: float
    description: str
    minimum: float = 0.0
    """Lowest value allowed (inclusive)."""
    columns: frozenset[ColumnKind] = ANY_COLUMN
    """Column kinds it applies to; on others the function runs without it."""

    @property
    def argument(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()


@dataclass(frozen=True)
class StatTest:
    name: str
    reads: Literal["sample", "counts"]
    """``sample``: the reference sample and the window's reservoir (numeric columns only);
    ``counts``: counts per bin or category."""
    kind: Literal["p_value", "distance"]
    columns: frozenset[ColumnKind]
    """Column kinds the test applies to."""
    default_threshold: float | None = None
    """Default for distances; hypothesis tests use the spec's ``pValue``."""
    options: tuple[Option, ...] = ()

    @property
    def function(self) -> Callable[..., TestResult]:
        module = importlib.import_module(f"{__name__}.{self.name}")
        return cast(Callable[..., TestResult], getattr(module, self.name))

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def arguments(self, column: ColumnKind, values: dict[str, float]) -> dict[str, Any]:
        """Keyword arguments of the function for a column of this kind: the set values, else defaults."""
        return {o.argument: values.get(o.name, o.default) for o in self.options if column in o.columns}


_POOL = Option(
    "minExpected",
    5.0,
    "Categories whose smallest expected count is below this are pooled into one cell, so that the "
    "chi-square approximation holds for long-tailed categoricals (0: no pooling).",
    columns=CATEGORICAL,
)

STATTESTS: dict[str, StatTest] = {
    t.name: t
    for t in (
        StatTest("ks", "sample", "p_value", NUMERIC),
        StatTest("chi2", "counts", "p_value", ANY_COLUMN, options=(_POOL,)),
        StatTest("psi", "counts", "distance", ANY_COLUMN, 0.1),
        StatTest("wasserstein", "sample", "distance", NUMERIC, 0.1),
        StatTest("jensenshannon", "counts", "distance", ANY_COLUMN, 0.1),
    )
}

DEFAULT_TESTS: dict[ColumnKind, str] = {"numeric": "ks", "categorical": "chi2"}
"""The test a column gets when the spec names none."""


def for_column(column: ColumnKind) -> list[StatTest]:
    return [t for t in STATTESTS.values() if column in t.columns]


def expected_tests(tests: Iterable[StatTest] | None = None) -> str:
    """``'chi2', 'ks' or 'psi'``: the names of ``tests`` (all by default), for error messages."""
    names = [f"'{t.name}'" for t in sorted(STATTESTS.values() if tests is None else tests, key=lambda t: t.name)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
