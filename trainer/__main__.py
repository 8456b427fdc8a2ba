"""Entry point for `python -m trainer` (see trainer/cli.py)."""

import sys

from .cli import main

sys.exit(main())
