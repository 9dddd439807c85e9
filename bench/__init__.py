"""Benchmarks and the fault campaign (``bench/chaos.py``); a package so tests can import
the campaign's pure parts (schedules, ledger analysis)."""
