"""Messages of the lasting event history and of the daemon's logs, codes 196001-196099.

Same conventions as :mod:`standfast.messages.own`: a refusal is ERROR, something
tolerated or worked around is WARNING, progress is INFO. 1950xx: event history and
``standfast events``; 1951xx: logging.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

HISTORY_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "196001",
        _ERR,
        'Time "{value}" for {option} is invalid: {reason}',
        '{option} の時刻"{value}"は無効です: {reason}',
        action_en="Give an ISO 8601 time (2026-12-01T10:00, 2026-12-01 10:00:00+09:00) or a"
        " time ago (30s, 15m, 2h, 7d, 4w).",
        action_ja="ISO 8601 の時刻 (2026-12-01T10:00、2026-12-01 10:00:00+09:00) または"
        "現在からの相対時間 (30s、15m、2h、7d、4w) を指定してください。",
    ),
    MessageDef(
        "196002",
        _ERR,
        "--since ({since}) is later than --until ({until})",
        "--since ({since}) が --until ({until}) より後です",
        action_en="Give a --since earlier than --until.",
        action_ja="--until より前の --since を指定してください。",
    ),
    MessageDef(
        "196003",
        _ERR,
        "Limit {limit} is out of range: use 1-{maximum}",
        "件数 {limit} が範囲外です: 1 から {maximum} の値を使用してください",
    ),
    MessageDef(
        "196004",
        _ERR,
        'Event {field} "{value}" is invalid: {reason}',
        'イベントの {field}"{value}"は無効です: {reason}',
    ),
    MessageDef(
        "196005",
        _ERR,
        "The event history in the backup is invalid: {detail}",
        "バックアップ内のイベント履歴が無効です: {detail}",
        action_en="Use a backup written by standfast config backup, or remove its"
        ' "events" list to restore the configuration alone.',
        action_ja="standfast config backup で作成したバックアップを使用するか、"
        '"events" のリストを削除して構成だけを復元してください。',
    ),
    MessageDef(
        "196006",
        _WARN,
        "Events could not be written to the event history in {path}: {reason}",
        "{path} のイベント履歴にイベントを書き込めませんでした: {reason}",
        action_en="Check the disk and the database file; the events stay in memory"
        " (standfast events shows the newest of them) until the daemon stops.",
        action_ja="ディスクとデータベース・ファイルを確認してください。イベントはデーモンが"
        "停止するまでメモリに残ります。",
    ),
    MessageDef(
        "196007",
        _INFO,
        "Event history: {loaded} events loaded from {path}; keeping {keep} events, {days} days",
        "イベント履歴: {path} から {loaded} 件のイベントを読み込みました。"
        "保存件数 {keep}、保存日数 {days}",
    ),
    MessageDef(
        "196008",
        _INFO,
        "Event history: {added} events of the backup added, {present} already present",
        "イベント履歴: バックアップのイベント {added} 件を追加しました ({present} 件は既存)",
    ),
    MessageDef(
        "196101",
        _INFO,
        "Log file {path} reopened (SIGHUP)",
        "ログ・ファイル {path} を開き直しました (SIGHUP)",
    ),
    MessageDef(
        "196102",
        _WARN,
        "Cannot log to {target}: {reason}; logging to {fallback} instead",
        "{target} にログを出力できません: {reason}。代わりに {fallback} に出力します",
        action_en="Check SF_LOG_TARGET in /etc/default/standfast.",
        action_ja="/etc/default/standfast の SF_LOG_TARGET を確認してください。",
    ),
)
