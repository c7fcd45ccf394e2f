"""``python -m xen.xm``: the same as the ``xm`` console script."""

import sys

from .main import main

sys.exit(main())
