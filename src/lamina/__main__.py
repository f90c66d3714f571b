"""`python -m lamina`: the same entry point as the `lamina` command."""

from lamina.cli.main import main

raise SystemExit(main())
