"""``ml-serving``: one command-line tool over the project's modules.

One module per subcommand (``cli/<command>.py``: its help, examples, arguments and a ``run``),
each registered by one line in ``cli/main.py``. The subcommand modules import only the standard
library at import time, so ``--help`` stays fast; each ``run`` imports what it calls.
"""

from cli.main import forward, main

__all__ = ["main", "forward"]
