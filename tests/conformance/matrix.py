"""The V2 conformance matrix (client x transport x case), printed in pytest's terminal summary."""

from __future__ import annotations

__all__ = ["ROWS", "write_matrix"]

ROWS = "v2_conformance_rows"
"""The user property under which a conformance test hands its rows to the session."""


def write_matrix(terminalreporter, rows: list[dict]) -> None:
    """The matrix of ``rows`` (one per client, target and case) as a section of the terminal summary."""
    cases = list(dict.fromkeys(row["case"] for row in rows))

    def label(row: dict) -> str:
        transport = "gRPC" if "grpc" in row["client"].partition("/")[0] else "REST"
        return f"{row['client']} over {transport} -> {row['target']}"

    columns = list(dict.fromkeys(label(row) for row in rows))
    cell = {(label(r), r["case"]): r for r in rows}
    terminalreporter.section("V2 conformance: client x transport x case (ok, FAIL, n/a = not offered by the client)")
    for number, name in enumerate(columns, 1):
        terminalreporter.write_line(f"  [{number:>2}] {name}")
    width = max(len(c) for c in cases)
    terminalreporter.write_line(f"{'case':<{width}}" + "".join(f"{n:>5}" for n in range(1, len(columns) + 1)))
    for case in cases:
        marks = []
        for name in columns:
            row = cell.get((name, case))
            marks.append("-" if row is None else "n/a" if row["ok"] is None else "ok" if row["ok"] else "FAIL")
        terminalreporter.write_line(f"{case:<{width}}" + "".join(f"{m:>5}" for m in marks))
