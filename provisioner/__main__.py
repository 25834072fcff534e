"""`python -m provisioner` runs the command line."""

import sys

from provisioner.cli import main

sys.exit(main())
