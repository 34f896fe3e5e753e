"""`python -m trainer.cli ...`."""

import sys

from trainer.cli.app import main

sys.exit(main())
