"""``python -m backends``: see backends.cli."""

import sys

from .cli import main

sys.exit(main())
