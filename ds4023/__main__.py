"""``python -m ds4023 ...`` is the ``ds4023`` command (ds4023/cli.py)."""

import sys

from ds4023.cli import main

sys.exit(main())
