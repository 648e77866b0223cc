"""``python -m reports``: see :mod:`reports.open`."""

import sys

from reports.open import main

sys.exit(main())
