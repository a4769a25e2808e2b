"""``python -m bench``: the benchmark suite (see docs/benchmarks.md)."""

import sys

from .suite import main

sys.exit(main())
