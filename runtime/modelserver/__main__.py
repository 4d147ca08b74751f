"""``python -m runtime.modelserver --model_name NAME --model_dir URI_OR_PATH [...]``."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from runtime.modelserver import threads
from runtime.modelserver.settings import parse_settings

if __name__ == "__main__":
    # The predict threads go into the environment before anything loads OpenMP or a BLAS; bad
    # settings are left to main(), which names them.
    try:
        threads.apply(parse_settings(sys.argv[1:]).predict_threads)
    except ValidationError:
        pass
    from runtime.modelserver.app import main

    sys.exit(main())
