"""`python -m evaluation eval ...`, the same as `genrm eval ...`."""

from evaluation.cli import main

raise SystemExit(main())
