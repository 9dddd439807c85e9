"""Messages of alerts: recipients, delivery and their replication (197001-197099)."""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

ALERT_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "197001",
        _ERR,
        "Alert recipient {name} is invalid: {reason}",
        "アラートの受信者 {name} が不正です: {reason}",
        "Correct the recipient (see docs/alerts.md) and add it again.",
        "受信者を修正して (docs/alerts.md を参照) もう一度追加してください。",
    ),
    MessageDef(
        "197002",
        _ERR,
        'Unknown alert kind "{kind}": use all or some of {kinds}',
        'アラートの種類 "{kind}" は不明です: all または {kinds} から指定してください',
    ),
    MessageDef(
        "197003",
        _ERR,
        "Alert recipient {name} already exists",
        "アラートの受信者 {name} はすでに存在します",
        "Remove it first (standfast alert remove), or choose another name.",
        "先に削除する (standfast alert remove) か、別の名前にしてください。",
    ),
    MessageDef(
        "197004",
        _ERR,
        "There is no alert recipient {name}",
        "アラートの受信者 {name} はありません",
        "See standfast alert list.",
        "standfast alert list を参照してください。",
    ),
    MessageDef(
        "197005",
        _WARN,
        "Alert {kind} to recipient {name} failed (attempt {attempt} of {attempts}): "
        "{reason}; next attempt in {delay} s",
        "受信者 {name} へのアラート {kind} が失敗しました ({attempts} 回中 {attempt} 回目): "
        "{reason}。{delay} 秒後に再試行します",
    ),
    MessageDef(
        "197006",
        _ERR,
        "Alert {kind} to recipient {name} was given up after {attempts} attempts: {reason}",
        "受信者 {name} へのアラート {kind} は {attempts} 回試行して断念しました: {reason}",
        "Check the recipient (standfast alert test {name}) and the logs.",
        "受信者を確認してください (standfast alert test {name}) とログを確認してください。",
    ),
    MessageDef(
        "197007",
        _WARN,
        "Alert queue of recipient {name} is full ({limit}): the oldest alert ({kind}) was dropped",
        "受信者 {name} のアラートキューが満杯です ({limit}): 最も古いアラート ({kind}) を"
        "破棄しました",
        "The recipient is slow or failing: check it (standfast alert test {name}).",
        "受信者が遅いか失敗しています: 確認してください (standfast alert test {name})。",
    ),
    MessageDef(
        "197008",
        _INFO,
        "Alert recipients are now version {version} ({count} recipients, from {origin})",
        "アラートの受信者はバージョン {version} になりました (受信者 {count}、{origin} から)",
    ),
    MessageDef(
        "197009",
        _INFO,
        "Alert {kind} delivered to recipient {name} in {seconds} s",
        "アラート {kind} を受信者 {name} に {seconds} 秒で配信しました",
    ),
    MessageDef(
        "197010",
        _WARN,
        "Alert recipients from {peer} (version {version}) could not be adopted: {reason}",
        "{peer} からのアラート受信者 (バージョン {version}) を採用できませんでした: {reason}",
    ),
)

#: Each message's placeholders (the catalogue tests check texts against them).
ALERT_FIELDS: dict[str, tuple[str, ...]] = {
    "197001": ("name", "reason"),
    "197002": ("kind", "kinds"),
    "197003": ("name",),
    "197004": ("name",),
    "197005": ("attempt", "attempts", "delay", "kind", "name", "reason"),
    "197006": ("attempts", "kind", "name", "reason"),
    "197007": ("kind", "limit", "name"),
    "197008": ("count", "origin", "version"),
    "197009": ("kind", "name", "seconds"),
    "197010": ("peer", "reason", "version"),
}
