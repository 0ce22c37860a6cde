"""`python -m crowdmaker` is the same as the `crowdmaker` console script."""

from crowdmaker.cli import main

raise SystemExit(main())
