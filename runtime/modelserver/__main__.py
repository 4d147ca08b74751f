"""``python -m runtime.modelserver --model_name NAME --model_dir URI_OR_PATH [...]``."""

from __future__ import annotations

import sys

from runtime.modelserver.app import main

if __name__ == "__main__":
    sys.exit(main())
