"""The NAS fixtures live in tests/conftest.py, shared with the daemon tests."""
