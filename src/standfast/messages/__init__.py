"""The numbered message catalogue, in English and Japanese.

Codes are part of the interface: scripts and tests match on them, never on
wording. Texts use ``{name}`` placeholders filled from keyword parameters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Lang = Literal["en", "ja"]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"


@dataclass(frozen=True)
class MessageDef:
    code: str
    severity: Severity
    en: str
    ja: str
    action_en: str = ""
    action_ja: str = ""

    def text(self, lang: Lang) -> str:
        return self.ja if lang == "ja" else self.en

    def action(self, lang: Lang) -> str:
        return self.action_ja if lang == "ja" else self.action_en


class _KeepMissing(dict[str, object]):
    """Leaves an unknown placeholder visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "<" + key + ">"


def language_from_env(env: Mapping[str, str] | None = None) -> Lang:
    """Pick the language as gettext would: LC_ALL, LC_MESSAGES, then LANG."""
    env = os.environ if env is None else env
    for name in ("STANDFAST_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def _catalogue() -> dict[str, MessageDef]:
    from standfast.messages.alert_codes import ALERT_MESSAGES
    from standfast.messages.api_codes import API_MESSAGES
    from standfast.messages.backup_codes import BACKUP_MESSAGES
    from standfast.messages.cluster_codes import CLUSTER_MESSAGES
    from standfast.messages.etcd_codes import ETCD_MESSAGES
    from standfast.messages.guide import GUIDE_MESSAGES
    from standfast.messages.history_codes import HISTORY_MESSAGES
    from standfast.messages.ip_codes import IP_MESSAGES
    from standfast.messages.key_codes import KEY_MESSAGES
    from standfast.messages.lab_codes import LAB_MESSAGES
    from standfast.messages.mode_codes import MODE_MESSAGES
    from standfast.messages.ocf_codes import OCF_MESSAGES
    from standfast.messages.own import OWN_MESSAGES
    from standfast.messages.quorum_codes import QUORUM_MESSAGES
    from standfast.messages.stop_codes import STOP_MESSAGES
    from standfast.messages.systemd_codes import SYSTEMD_MESSAGES

    table: dict[str, MessageDef] = {}
    for m in (
        *GUIDE_MESSAGES,
        *OWN_MESSAGES,
        *QUORUM_MESSAGES,
        *IP_MESSAGES,
        *CLUSTER_MESSAGES,
        *API_MESSAGES,
        *LAB_MESSAGES,
        *ALERT_MESSAGES,
        *ETCD_MESSAGES,
        *KEY_MESSAGES,
        *OCF_MESSAGES,
        *HISTORY_MESSAGES,
        *MODE_MESSAGES,
        *SYSTEMD_MESSAGES,
        *BACKUP_MESSAGES,
        *STOP_MESSAGES,
    ):
        if m.code in table:
            raise RuntimeError(f"duplicate message code {m.code}")
        table[m.code] = m
    return table


CATALOGUE: dict[str, MessageDef] = _catalogue()


def lookup(code: str) -> MessageDef:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise KeyError(f"message code {code} is not in the catalogue") from None


def format_text(code: str, lang: Lang | None = None, **params: object) -> str:
    """The message text alone, placeholders filled."""
    m = lookup(code)
    return m.text(lang or language_from_env()).format_map(_KeepMissing(params))


def render(code: str, lang: Lang | None = None, **params: object) -> str:
    """``CODE: text`` as printed to operators and logs."""
    return f"{code}: {format_text(code, lang, **params)}"


class StandfastError(Exception):
    """An error that carries a catalogue code; every refusal raises one."""

    def __init__(self, code: str, **params: object) -> None:
        self.definition = lookup(code)
        self.code = code
        self.params = params
        # What the failed action reported before it failed (filled in by the engine).
        self.notices: list[Notice] = []
        super().__init__(render(code, "en", **params))

    @property
    def severity(self) -> Severity:
        return self.definition.severity

    def text(self, lang: Lang | None = None) -> str:
        return render(self.code, lang, **self.params)

    def to_dict(self, lang: Lang | None = None) -> dict[str, object]:
        lang = lang or language_from_env()
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": format_text(self.code, lang, **self.params),
            "action": self.definition.action(lang),
            "params": {k: str(v) for k, v in self.params.items()},
        }


@dataclass(frozen=True)
class Notice:
    """A catalogue message as a value (a warning or progress line), not raised."""

    code: str
    params: Mapping[str, object]

    @classmethod
    def of(cls, code: str, **params: object) -> Notice:
        lookup(code)
        return cls(code, params)

    @property
    def severity(self) -> Severity:
        return lookup(self.code).severity

    def text(self, lang: Lang | None = None) -> str:
        return render(self.code, lang, **self.params)

    def to_dict(self, lang: Lang | None = None) -> dict[str, object]:
        lang = lang or language_from_env()
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": format_text(self.code, lang, **self.params),
            "action": lookup(self.code).action(lang),
        }
