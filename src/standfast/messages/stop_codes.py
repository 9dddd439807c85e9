"""Messages of a daemon that stops in a cluster and hands its hierarchies over, codes
198201-198299 (``engine/leave.py``; docs/install.md, "Stopping the daemon").

Same conventions as :mod:`standfast.messages.own`: BEGIN and END of the hand-over are
INFO, what is left running is a WARNING, what its peers hear is INFO.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_INFO = Severity.INFO
_WARN = Severity.WARNING

STOP_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "198201",
        _INFO,
        "stop: BEGIN hand-over of {count} hierarchies on server {server} as its daemon"
        " stops ({tags})",
        "stop: サーバ{server}のデーモン停止に伴い、{count}個の階層の引き渡しを開始します({tags})",
    ),
    MessageDef(
        "198202",
        _INFO,
        "stop: END hand-over on server {server}: {tags} out of service here after"
        " {seconds} s; the other servers take them over",
        "stop: サーバ{server}での引き渡しが完了しました: {tags}は{seconds}秒でこのサーバで"
        "サービス停止し、他のサーバが引き継ぎます",
    ),
    MessageDef(
        "198203",
        _WARN,
        "stop: server {server}'s daemon stops with {tags} still in service or failed here"
        " ({reason}); the other servers treat it as failed (fencing, watchdog) before they"
        " take these over",
        "stop: サーバ{server}のデーモンは{tags}がこのサーバでサービス中または障害のまま"
        "停止します({reason})。他のサーバはこのサーバを障害と判断し(フェンシング、"
        "ウォッチドッグ)、その後に引き継ぎます",
        action_en="Look for the failed remove in the lines before this one; check that"
        " nothing of these hierarchies still runs on this server before starting it again.",
        action_ja="この行より前のログで失敗した停止処理を確認し、再起動する前に、"
        "これらの階層がこのサーバで動作していないことを確認してください。",
    ),
    MessageDef(
        "198204",
        _INFO,
        "stop: server {server} keeps {tags} running as its daemon stops: they are in"
        " maintenance (nothing moves; its restarted daemon finds them)",
        "stop: サーバ{server}のデーモンは停止しますが、{tags}はメンテナンス中のため"
        "動作したままにします(何も移動しません。再起動したデーモンが検出します)",
    ),
    MessageDef(
        "198205",
        _INFO,
        "Server {peer} left the cluster: its daemon stopped (it said so in its last heartbeats)",
        "サーバ{peer}がクラスタから離脱しました: デーモンが停止しました"
        "(最後のハートビートで通知されました)",
    ),
)
