"""`python -m roboforge ...` runs the command line."""

from roboforge.cli import main

main()
