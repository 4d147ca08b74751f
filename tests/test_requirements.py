"""requirements.in declares every distribution the project's code imports, and the lock pins it."""

from __future__ import annotations

from tests.imports import ROOT, normalize, pinned_names, providers, third_party_imports

FOLDERS = ("runtime", "components", "policies", "bench", "examples", "tests", "cli", "__main__.py")
PEERS_DIR = "bench/peers"
"""Model server peers, each run in its own virtualenv from ``bench/peers/<peer>.txt``."""
HAND_BUILT_PEERS = {"evidently": "bench/drift.py", "nannyml": "bench/drift.py"}
"""Imported only by bench/drift.py's workers, which run in ``.bench/evidently`` and ``.bench/nannyml``."""


def _locked() -> set[str]:
    return {
        normalize(line.split("==", 1)[0])
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }


def _project_imports() -> dict[str, set[str]]:
    folders = [f for f in FOLDERS if (ROOT / f).exists()]
    imports = third_party_imports(*folders)
    for module, files in list(imports.items()):
        files = {f for f in files if not f.startswith(f"{PEERS_DIR}/")}
        top = module.split(".", 1)[0]
        if top in HAND_BUILT_PEERS:
            files -= {HAND_BUILT_PEERS[top]}
        if files:
            imports[module] = files
        else:
            del imports[module]
    return imports


def test_every_imported_distribution_is_declared_in_requirements_in_and_pinned_by_the_lock():
    declared, locked = pinned_names(ROOT / "requirements.in"), _locked()
    undeclared: dict[str, set[str]] = {}
    unlocked: dict[str, set[str]] = {}
    for module, files in _project_imports().items():
        found = providers(module)
        if not found & declared:
            what = " or ".join(sorted(found)) or f"{module} (no installed distribution provides it)"
            undeclared.setdefault(what, set()).update(files)
        elif not found & declared & locked:
            unlocked.setdefault(" or ".join(sorted(found)), set()).update(files)

    def listed(problems: dict[str, set[str]]) -> str:
        return "\n".join(
            f"{what}, imported by {', '.join(sorted(files)[:3])}" for what, files in sorted(problems.items())
        )

    assert not undeclared, "declare in requirements.in (pinned as in the lock):\n" + listed(undeclared)
    assert not unlocked, "declared in requirements.in but not pinned in requirements.lock:\n" + listed(unlocked)


def test_each_model_server_peer_imports_only_what_its_own_pins_install():
    """``<peer>_*.py`` runs on ``<peer>.txt``; a shared helper (``v2rows.py``) on every peer's pins."""
    folder = ROOT / PEERS_DIR
    pins = {p.stem: pinned_names(p) for p in folder.glob("*.txt")}
    assert pins, f"no peer pins in {PEERS_DIR}"
    problems = []
    for script in sorted(folder.glob("*.py")):
        peer = script.stem.split("_", 1)[0]
        for module in third_party_imports(str(script.relative_to(ROOT))):
            names = providers(module) or {normalize(module.split(".", 1)[0])}
            for name, pinned in pins.items():
                if (peer == name or peer not in pins) and not names & pinned:
                    problems.append(f"{script.name} imports {module}, which {name}.txt does not pin")
    assert not problems, "\n".join(problems)


def test_the_check_sees_through_namespace_packages_and_lazy_imports():
    # google is a namespace shared by several distributions: the portion decides.
    assert providers("google.protobuf.struct_pb2") == {"protobuf"}
    assert providers("yaml") == {"pyyaml"} and providers("sklearn.linear_model") == {"scikit-learn"}
    # torch is imported inside functions only; the check reads every import statement.
    assert "runtime/vision/classifier.py" in third_party_imports("runtime")["torch"]
