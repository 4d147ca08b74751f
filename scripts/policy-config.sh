#!/usr/bin/env bash
# The policy pack config for one stack, as `pulumi preview|up --policy-pack-config` takes it:
# policies/config/<stack>.json, with promotion-path told what staging serves when STAGING_SPEC is
# set: staging's specJson stack output (set but empty, e.g. staging never deployed, fails the rule
# in prod instead of falling back to the staging stack file).
#
#   STAGING_SPEC="$(pulumi stack output specJson -s ml-serving/staging)" scripts/policy-config.sh prod out.json
set -euo pipefail
stack="$1"
out="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
python3 - "$here/policies/config/$stack.json" "$out" <<'PY'
import json, os, sys
from pathlib import Path

source, out = Path(sys.argv[1]), Path(sys.argv[2])
config = json.loads(source.read_text())
spec = os.environ.get("STAGING_SPEC")
if spec is not None:
    served = out.with_name("staging-served-spec.json")
    served.write_text(spec)
    entry = config.setdefault("promotion-path", {"enforcementLevel": "mandatory"})
    entry["stagingSpecFile"] = str(served.resolve())
out.write_text(json.dumps(config, indent=2) + "\n")
print(f"{out}: {source.name}" + (f", promotion-path judged against {served}" if spec is not None else ""))
PY
