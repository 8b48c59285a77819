"""`python -m duetto`: the same command line as `duetto`."""

import sys

from duetto.cli import main

sys.exit(main())
