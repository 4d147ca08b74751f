"""The ml-serving policy pack: ``pulumi preview --policy-pack policies``.

Only this file constructs the PolicyPack (doing so starts the analyzer server and blocks).
"""

import sys
from pathlib import Path

# Pulumi runs this file from the pack folder; the rules import the project's packages.
_ROOT = str(Path(__file__).resolve().parent.parent)
sys.path[:] = [_ROOT] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.ADVISORY)
