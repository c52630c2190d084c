"""Run the matchers command line: `python -m matchers score ...`."""

from .cli import main

raise SystemExit(main())
