"""``python -m ds4023.export``: see :func:`ds4023.export.main`."""

import sys

from ds4023.export import main

sys.exit(main())
