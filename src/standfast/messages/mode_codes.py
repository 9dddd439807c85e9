"""Messages of maintenance mode and server standby, codes 198001-198099
(docs/maintenance.md).

Same conventions as :mod:`standfast.messages.own`: a refusal is ERROR, progress INFO.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_INFO = Severity.INFO

MODE_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "198001",
        _ERR,
        'Server "{server}" is not a server of this cluster (servers: {servers})',
        'サーバー"{server}"はこのクラスターのサーバーではありません (サーバー: {servers})',
        action_en="Give one of the servers of the cluster definition.",
        action_ja="クラスター定義のサーバーのいずれかを指定してください。",
    ),
    MessageDef(
        "198002",
        _ERR,
        'Server "{server}" is the last server able to run "{tag}": in standby it would'
        " keep it (no other server can take it)",
        'サーバー"{server}"は"{tag}"を実行できる最後のサーバーです: スタンバイにしても'
        "引き継げるサーバーがないため、そのまま保持されます",
        action_en="Bring another server holding a copy up first, or give --force: the"
        " server is then in standby and keeps the hierarchy until another server can take"
        " it.",
        action_ja="先にコピーを持つ別のサーバーを起動するか、--force を指定してください: "
        "その場合サーバーはスタンバイになり、別のサーバーが引き継げるまで階層を保持します。",
    ),
    MessageDef(
        "198003",
        _ERR,
        'Server "{server}" is in standby: it takes no hierarchy ("{tag}")',
        'サーバー"{server}"はスタンバイ中のため階層を引き受けません ("{tag}")',
        action_en='Bring it out of standby first: standfast server unstandby "{server}".',
        action_ja='先にスタンバイを解除してください: standfast server unstandby "{server}"',
    ),
    MessageDef(
        "198004",
        _INFO,
        "Maintenance mode is on for the whole cluster: no checks, no local recovery, no"
        " automatic failover or switchback until it is turned off",
        "クラスター全体の保守モードがオンになりました: オフにするまでチェック、ローカル回復、"
        "自動フェイルオーバーとスイッチバックを行いません",
    ),
    MessageDef(
        "198005",
        _INFO,
        "Maintenance mode is off for the whole cluster: checks resume from a fresh schedule",
        "クラスター全体の保守モードがオフになりました: チェックを新しいスケジュールで再開します",
    ),
    MessageDef(
        "198006",
        _INFO,
        'Server "{server}" is in standby: its hierarchies move to the next server by'
        " priority, it takes none",
        'サーバー"{server}"はスタンバイになりました: 階層は優先順位が次のサーバーへ移り、'
        "このサーバーは階層を引き受けません",
    ),
    MessageDef(
        "198007",
        _INFO,
        'Server "{server}" is out of standby: it may take hierarchies again',
        'サーバー"{server}"のスタンバイが解除されました: 再び階層を引き受けられます',
    ),
    MessageDef(
        "198008",
        _INFO,
        'Maintenance mode is on for hierarchy "{tag}": no checks, no local recovery, no'
        " automatic failover or switchback until it is turned off",
        '階層"{tag}"の保守モードがオンになりました: オフにするまでチェック、ローカル回復、'
        "自動フェイルオーバーとスイッチバックを行いません",
    ),
    MessageDef(
        "198009",
        _INFO,
        'Maintenance mode is off for hierarchy "{tag}": checks resume from a fresh schedule',
        '階層"{tag}"の保守モードがオフになりました: チェックを新しいスケジュールで再開します',
    ),
)
