"""``python -m benchmarks``: run the benchmark suite (see ``--help``)."""

from benchmarks.cli import main

raise SystemExit(main())
