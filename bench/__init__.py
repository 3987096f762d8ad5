"""The fakeserver benchmark: run it as `python bench/run.py` (see bench/README.md)."""
