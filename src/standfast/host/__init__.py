"""The operating system side of Standfast: mount table, fstab, mount/umount,
who uses a mount, health probes, halt and fencing (``power``), bounded child
processes (``children``), atomic file writes (``atomic``), and running commands
with deadlines.

Nothing in this package waits without a deadline, runs a shell, or touches a
possibly hung mount from the calling process.
"""
