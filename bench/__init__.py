"""talkstats benchmarks: ``python -m bench [--quick] [--only ...]`` (docs/benchmarks.md)."""
