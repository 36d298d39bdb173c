"""`python -m lifting`: the command line, the same as the `video-mocap` console script (see lifting.cli)."""

import sys

from lifting.cli import main

sys.exit(main())
