"""``python -m warehouse``: see :mod:`warehouse.cli`."""

import sys

from warehouse.cli import main

sys.exit(main())
