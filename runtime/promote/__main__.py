import sys

from runtime.promote.cli import main

if __name__ == "__main__":
    sys.exit(main())
