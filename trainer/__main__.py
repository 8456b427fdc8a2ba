"""Entry point for `python -m trainer`: one training run (trainer/run.py)."""

import sys

from .run import main

sys.exit(main())
