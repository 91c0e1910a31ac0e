"""`python -m berth.runtime ...` is `berth-runc ...`."""

import sys

from berth.runtime.cli import main

sys.exit(main())
