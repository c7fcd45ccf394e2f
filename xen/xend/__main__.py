"""``python -m xen.xend`` runs the xend command."""

import sys

from .main import main

sys.exit(main())
