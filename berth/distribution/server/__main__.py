"""`python -m berth.distribution.server ...`: the registry command line."""

import sys

from berth.distribution.server import main

sys.exit(main())
