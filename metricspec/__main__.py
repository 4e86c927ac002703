"""`python -m metricspec` runs the command line."""

from metricspec.cli import main

main()
