"""`python -m lifting`: the command line (see lifting.cli)."""

import sys

from lifting.cli import main

sys.exit(main())
