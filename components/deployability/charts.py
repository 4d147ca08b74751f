"""The pinned charts' own data (``../shared/charts``): defaults, schemas, built-in objects.

Rule ``chart-values``: every value a Helm release sets exists in the pinned chart's
``values.yaml`` (and validates against its ``values.schema.json`` where it has one). Helm ignores
an unknown key without a word, so a misplaced one (istiod's ``pilot.autoscaleMin``, read at the
top level since 1.28) changes nothing on the cluster.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from components.deployability.render_view import Finding, Release, RenderView

__all__ = ["charts_dir", "chart_folder", "chart_defaults", "effective_values", "chart_values"]

# Istio's charts keep their defaults under this key and merge it to the top at render time.
_ISTIO_DEFAULTS = "_internal_defaults_do_not_set"
# Maps whose keys are not the chart's but a program's, as their values.yaml documents: any
# cluster-autoscaler flag ("extraArgs -- Additional container arguments"), any field of Istio's
# MeshConfig ("See https://istio.io/docs/reference/config/istio.mesh.v1alpha1/").
_OPEN_MAPS = {"cluster-autoscaler": {"extraArgs"}, "istiod": {"meshConfig"}}


def charts_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "shared" / "charts"


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str], Path]:
    """(chart name, version) -> folder with its values.yaml, from ``<chart>-<version>[/<sub>]``."""
    index = {}
    for folder in sorted(p for p in charts_dir().iterdir() if p.is_dir()):
        name, _, version = folder.name.rpartition("-")
        if (folder / "values.yaml").exists():
            index[(name, version)] = folder
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "values.yaml").exists()):
            index[(sub.name, version)] = sub
    return index


def chart_folder(chart: str, version: str) -> Path | None:
    return (
        _index().get((chart, version))
        or _index().get((chart, version.lstrip("v")))
        or _index().get((chart, f"v{version}"))
    )


@lru_cache(maxsize=32)
def _defaults(folder: Path) -> dict[str, Any]:
    values = yaml.safe_load((folder / "values.yaml").read_text()) or {}
    if _ISTIO_DEFAULTS in values:
        values = {**values.pop(_ISTIO_DEFAULTS), **values}
    return values


def chart_defaults(chart: str, version: str) -> dict[str, Any] | None:
    folder = chart_folder(chart, version)
    return copy.deepcopy(_defaults(folder)) if folder else None


def _merge(base: Any, override: Any) -> Any:
    """Helm's coalescing: maps merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value)
        return out
    return copy.deepcopy(override)


def effective_values(release: Release) -> dict[str, Any]:
    """The values the chart renders with: its defaults under the release's own."""
    return _merge(chart_defaults(release.chart, release.version) or {}, release.values)


def _unknown_keys(
    values: dict[str, Any], defaults: dict[str, Any], open_maps: set[str], path: str = ""
) -> Iterator[tuple[str, list[str]]]:
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if here in open_maps:
            continue
        if key not in defaults:
            yield here, sorted(defaults)
            continue
        default = defaults[key]
        # An empty map (annotations, nodeSelector, extraArgs ...) takes keys of the user's choosing.
        if isinstance(value, dict) and isinstance(default, dict) and default:
            yield from _unknown_keys(value, default, open_maps, here)


def _locations(defaults: Any, key: str, path: str = "") -> Iterator[str]:
    if isinstance(defaults, dict):
        for k, v in defaults.items():
            here = f"{path}.{k}" if path else k
            if k == key:
                yield here
            yield from _locations(v, key, here)


def _lookup_path(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _leaf_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from (_leaf_keys(v) if isinstance(v, dict) and v else [k])


def chart_values(view: RenderView) -> list[Finding]:
    findings = []
    for release in view.releases:
        if not release.values:
            continue
        folder = chart_folder(release.chart, release.version)
        if folder is None:
            findings.append(
                Finding(
                    "chart-values",
                    release.label,
                    f"no data for chart {release.chart} {release.version} in {charts_dir()}: its values cannot be "
                    "checked; add the chart's values.yaml (read upstream at that tag) or pin a version that has it",
                )
            )
            continue
        defaults = _defaults(folder)
        for path, siblings in _unknown_keys(release.values, defaults, _OPEN_MAPS.get(release.chart, set())):
            key = path.rsplit(".", 1)[-1]
            # A misplaced subtree (pilot.autoscaleMin): look for its leaves where the chart has them.
            leaves = [key, *_leaf_keys(_lookup_path(release.values, path))]
            elsewhere = [p for leaf in leaves for p in _locations(defaults, leaf) if p != path][:3]
            close = difflib.get_close_matches(key, siblings, n=2)
            hints = [f"'{p}' exists" for p in elsewhere] + [f"did you mean '{c}'?" for c in close if c not in elsewhere]
            findings.append(
                Finding(
                    "chart-values",
                    release.label,
                    f"values.{path} is not a value of the pinned chart ({folder.name}/values.yaml): Helm ignores it "
                    f"silently, so it changes nothing on the cluster; fix: set the key the chart reads"
                    + (f" ({'; '.join(hints)})" if hints else ""),
                )
            )
        schema_file = folder / "values.schema.json"
        if schema_file.exists():
            schema = json.loads(schema_file.read_text())
            merged = _merge(defaults, release.values)
            for error in jsonschema.Draft7Validator(schema).iter_errors(merged):
                where = ".".join(str(p) for p in error.absolute_path) or "<root>"
                findings.append(
                    Finding(
                        "chart-values",
                        release.label,
                        f"values.{where}: {error.message} (the chart's values.schema.json): Helm refuses to install; "
                        "fix: set a value of the type the schema asks for",
                    )
                )
    return findings
