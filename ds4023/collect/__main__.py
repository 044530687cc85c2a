"""``python -m ds4023.collect``: see :func:`ds4023.collect.main`."""

import sys

from ds4023.collect import main

sys.exit(main())
