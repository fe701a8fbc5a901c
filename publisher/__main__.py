"""`python -m publisher` runs the command-line interface."""

from publisher.cli import main

raise SystemExit(main())
