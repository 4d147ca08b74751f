import sys

from components.cost.cli import main

sys.exit(main())
