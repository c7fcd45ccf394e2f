"""``python -m xen.xend`` runs the xend command."""

import sys

from .daemon.cli import main

sys.exit(main())
