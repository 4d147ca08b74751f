"""The runtime image's Dockerfile: pinned base, installs from the lock, non-root, every entry point."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from runtime.wiring import RUNTIME_UID
from tests.imports import normalize, providers, third_party_imports

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "runtime" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_base_image_is_pinned():
    base = next(arg for op, arg in _instructions() if op == "FROM")
    tag = base.split(":", 1)[1] if ":" in base else ""
    assert re.match(r"^\d+\.\d+\.\d+", tag), f"base image {base!r} must be pinned to a patch version"


def test_every_installed_package_is_pinned_by_the_lock():
    runs = [arg for op, arg in _instructions() if op == "RUN" and "pip install" in arg]
    assert len(runs) == 1, runs
    words = shlex.split(runs[0].split("&&")[0])
    assert "--constraint" in words and words[words.index("--constraint") + 1].endswith("requirements.lock")
    packages = [w for w in words[words.index("--constraint") + 2 :] if not w.startswith("-")]
    locked = _locked()
    names = [normalize(re.sub(r"\[.*\]", "", p)) for p in packages]
    missing = [n for n in names if n not in locked]
    assert not missing, f"installed but not pinned in requirements.lock: {missing}"
    # What each process needs: the model server, the gateway, the drift monitor, the MLflow server.
    assert {"kserve", "mlflow", "fastapi", "uvicorn", "scipy", "boto3", "pg8000"} <= set(names), names


def test_runs_as_the_uid_the_pod_specs_expect_and_ships_the_runtime_package():
    instructions = _instructions()
    assert ("USER", str(RUNTIME_UID)) in instructions
    assert any(op == "RUN" and f"useradd --uid {RUNTIME_UID} " in arg for op, arg in instructions), instructions
    copies = [arg.split() for op, arg in instructions if op == "COPY"]
    for source, _ in copies:
        assert (ROOT / source).exists(), f"COPY source {source} does not exist"
    assert ["runtime/", "/app/runtime/"] in copies
    for module in ("modelserver", "gateway", "drift"):
        assert (ROOT / "runtime" / module).is_dir(), f"entry point runtime.{module} is missing from the image"


def test_torch_comes_from_the_lock_in_the_build_the_build_argument_names():
    instructions = _instructions()
    assert ("ARG", "TORCH_INDEX=https://download.pytorch.org/whl/cpu") in instructions
    run = next(arg for op, arg in instructions if op == "RUN" and "pip install" in arg)
    words = shlex.split(run.split("&&")[0])
    assert words[words.index("--extra-index-url") + 1] == "${TORCH_INDEX}"
    assert {"torch", "pillow"} <= set(words) and "torchvision" not in words
    assert _locked()["torch"] == "2.13.0", "the lock pins the release; the index picks the CPU or CUDA build"


def _installed_by_name() -> set[str]:
    run = next(arg for op, arg in _instructions() if op == "RUN" and "pip install" in arg)
    words = shlex.split(run.split("&&")[0])
    return {
        normalize(re.sub(r"\[.*\]", "", w)) for w in words[words.index("--constraint") + 2 :] if not w.startswith("-")
    }


def test_the_image_installs_every_distribution_the_runtime_package_imports():
    installed = _installed_by_name()
    missing = {}
    for module, files in third_party_imports("runtime").items():
        found = providers(module)
        if not found & installed:
            missing.setdefault(" or ".join(sorted(found)) or module, set()).update(files)
    assert not missing, "runtime/ imports these, which runtime/Dockerfile does not install by name:\n" + "\n".join(
        f"{what}, imported by {', '.join(sorted(files)[:3])}" for what, files in sorted(missing.items())
    )
