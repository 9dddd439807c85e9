"""The catalogue as rows, for ``standfast messages [--lang en|ja] [--json]``."""

from __future__ import annotations

from standfast.messages import CATALOGUE, Lang


def catalogue_rows(lang: Lang) -> list[dict[str, str]]:
    """One row per code, sorted by code; texts keep their ``{name}`` placeholders."""
    return [
        {
            "code": m.code,
            "severity": str(m.severity),
            "message": m.text(lang),
            "action": m.action(lang),
        }
        for m in sorted(CATALOGUE.values(), key=lambda m: m.code)
    ]
