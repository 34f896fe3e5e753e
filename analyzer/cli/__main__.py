"""`python -m analyzer.cli ...`."""

import sys

from analyzer.cli.app import main

sys.exit(main())
