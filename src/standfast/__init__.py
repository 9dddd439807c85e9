"""Standfast: a high-availability failover cluster manager for Linux."""

__version__ = "0.1.0"
