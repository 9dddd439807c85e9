"""The cluster as the GUI shows it: every resource instance on every server."""

from __future__ import annotations

from standfast.engine.service import EngineService


def cluster_view(engine: EngineService) -> dict[str, object]:
    """Every resource instance on every server with its state as this server knows it
    (its own states, and each live peer's from its heartbeat): the engine's one
    snapshot, rendered. Cheap; never raises for a peer's sake."""
    return engine.cluster_view()
