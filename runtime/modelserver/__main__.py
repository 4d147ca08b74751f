"""``python -m runtime.modelserver --model_name NAME --model_dir URI_OR_PATH [...]``."""

from __future__ import annotations

import sys

from runtime.modelserver import threads

if __name__ == "__main__":
    try:
        threads.apply(sys.argv[1:])  # before anything loads OpenMP or a BLAS
    except ValueError as exc:
        print(f"error: settings: {exc}", file=sys.stderr)
        sys.exit(2)
    from runtime.modelserver.app import main

    sys.exit(main())
