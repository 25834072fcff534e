"""`python -m provisioner` runs the command line."""

from provisioner.cli import run

run()
