"""The schema walk: validate every Kubernetes object of a render against its schema.

Core kinds are checked with the strict schemas that kubernetes-validate ships (unknown fields
are errors). KServe and Istio custom resources are checked against their upstream CRD schemas,
read from ``../shared/schemas`` beside the repository (reference data, not part of the project);
their structural schemas are tightened the same way, so a misspelt field is an error too.

    ml-serving check --stack prod --only schemas    # render, then walk; exit 1 on any problem

Every problem names the object (kind, namespace/name, URN) and the path of the invalid field.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from runtime.errors import MLServingError

__all__ = ["SchemaViolation", "WalkReport", "walk", "validate_object", "kubernetes_objects", "schemas_dir", "main"]

# Groups whose every kind must have a schema: an unknown kind there is a typo, not a gap.
_REQUIRED_GROUPS = ("kserve.io", "istio.io")
# Pulumi's wrapper around a secret value, as it appears in a render's inputs.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"


class SchemaViolation(MLServingError):
    """Objects of a render that do not validate; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class WalkReport:
    checked: list[str] = field(default_factory=list)
    """``kind namespace/name`` of every object validated."""
    unchecked: list[str] = field(default_factory=list)
    """Objects of a group with no schema at hand (neither core, KServe nor Istio)."""


def schemas_dir(repo_root: Path | None = None) -> Path:
    root = repo_root or Path(__file__).resolve().parent.parent
    return root.parent / "shared" / "schemas"


# --- objects of a render ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Unwrap secrets and turn integral floats (the wire form of numbers) back into ints."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) is not None and "value" in value:
            return _plain(value["value"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kubernetes_objects(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(URN, manifest) of every Kubernetes object a render declares (Helm releases excluded)."""
    for resource in document["resources"]:
        kind_type = resource["type"]
        if (
            not resource.get("custom")
            or not kind_type.startswith("kubernetes:")
            or kind_type.startswith("kubernetes:helm.sh/")
        ):
            continue
        manifest = _plain(resource["inputs"])
        if "apiVersion" in manifest and "kind" in manifest:
            yield resource["urn"], manifest


def _label(manifest: dict[str, Any]) -> str:
    metadata = manifest.get("metadata") or {}
    name = metadata.get("name", "<unnamed>")
    namespace = metadata.get("namespace")
    return f"{manifest['kind']} {namespace}/{name}" if namespace else f"{manifest['kind']} {name}"


def _path(error: jsonschema.ValidationError) -> str:
    parts = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return parts.lstrip(".") or "<root>"


# --- core kinds ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _core_registry(version: str) -> tuple[str, Registry]:
    folder = f"v{version}-local-strict"
    definitions = kv_utils.schema_contents(f"kubernetes-json-schema/{folder}/_definitions.json", version)
    return folder, Resource.from_contents(definitions) @ Registry()


def _core_version(kubernetes_version: str) -> str:
    wanted = tuple(int(p) for p in kv_utils.major_minor(kubernetes_version.lstrip("v")).split("."))
    known = [v for v in kv_utils.all_versions() if tuple(int(p) for p in v.split(".")[:2]) <= wanted]
    if not known:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}")
    return known[-1]


@lru_cache(maxsize=256)
def _core_validator(version: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    folder, registry = _core_registry(version)
    group = api_version.split("/")[0].split(".")[0] + "-" if "/" in api_version else ""
    short = api_version.rsplit("/", 1)[-1]
    try:
        schema = kv_utils.schema_contents(
            f"kubernetes-json-schema/{folder}/{kind.lower()}-{group}{short}.json", version
        )
    except FileNotFoundError:
        return None
    return jsonschema.Draft202012Validator(schema, registry=Resource.from_contents(schema) @ registry)


# --- custom resources ---------------------------------------------------------------------------


def _tighten(schema: Any) -> Any:
    """OpenAPI v3 structural schema -> JSON Schema that rejects unknown fields."""
    if isinstance(schema, list):
        return [_tighten(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _tighten(v) for k, v in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=4)
def _crd_schemas(folder: str) -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        # The C loader: the KServe CRDs alone are megabytes of YAML.
        for crd in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    schema = copy.deepcopy(schema)
                    # ObjectMeta is checked by the API server, not by the CRD's schema.
                    properties = schema.setdefault("properties", {})
                    properties["metadata"] = {"type": "object"}
                    properties.setdefault("apiVersion", {"type": "string"})
                    properties.setdefault("kind", {"type": "string"})
                    schemas[(f"{group}/{version['name']}", kind)] = _tighten(schema)
    return schemas


@lru_cache(maxsize=64)
def _crd_validator(folder: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    schema = _crd_schemas(folder).get((api_version, kind))
    return None if schema is None else jsonschema.Draft202012Validator(schema)


# --- the walk -----------------------------------------------------------------------------------


def validate_object(
    manifest: dict[str, Any], kubernetes_version: str = "1.32", schema_folder: Path | None = None
) -> list[str] | None:
    """Problems of one object (``path: message`` each), or None when no schema is known for it."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    if "." in group and not group.endswith(".k8s.io"):
        validator = _crd_validator(str(schema_folder or schemas_dir()), api_version, kind)
    else:
        validator = _core_validator(_core_version(kubernetes_version), api_version, kind)
    if validator is None:
        return None
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_path(e)}: {e.message}" for e in errors]


def walk(document: dict[str, Any], kubernetes_version: str = "1.32", schema_folder: Path | None = None) -> WalkReport:
    """Validate every Kubernetes object of a render; raise ``SchemaViolation`` listing all problems."""
    report, problems = WalkReport(), []
    for urn, manifest in kubernetes_objects(document):
        label = _label(manifest)
        found = validate_object(manifest, kubernetes_version, schema_folder)
        if found is None:
            group = manifest["apiVersion"].split("/")[0]
            if any(group == g or group.endswith("." + g) for g in _REQUIRED_GROUPS):
                problems.append(f"{label} ({urn}): no schema for {manifest['apiVersion']} {manifest['kind']}")
            else:
                report.unchecked.append(label)
            continue
        problems.extend(f"{label} ({urn}): {problem}" for problem in found)
        report.checked.append(label)
    if problems:
        raise SchemaViolation(problems)
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m components.schema``: ``ml-serving check --only schemas`` (cli/check.py)."""
    from cli import forward

    return forward(["check", "--only", "schemas"], argv)


if __name__ == "__main__":
    sys.exit(main())
