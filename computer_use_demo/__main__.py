"""``python -m computer_use_demo "task"``: the headless CLI (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
