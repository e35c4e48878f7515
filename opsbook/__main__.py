"""`python -m opsbook` is the `opsbook` command."""

from opsbook.cli import main

raise SystemExit(main())
