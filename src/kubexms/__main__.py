"""`python -m kubexms` runs the command line."""

from kubexms.cli import main

main()
