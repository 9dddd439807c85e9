"""Messages of the ``ocf`` kit (OCF resource agents), codes 195001-195099.

Same conventions as :mod:`standfast.messages.own`: a refusal or failure is ERROR,
something worked around or skipped is WARNING, progress is INFO.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING

OCF_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "195001",
        _ERR,
        'Agent "{agent}" is not an OCF agent name',
        'エージェント"{agent}"は OCF エージェント名ではありません',
        action_en="Give the agent as ocf:PROVIDER:TYPE, such as ocf:heartbeat:IPaddr2 "
        "(standfast kits lists the installed agents).",
        action_ja="ocf:heartbeat:IPaddr2 のように ocf:プロバイダ:タイプ の形式で指定してください"
        "(standfast kits でインストール済みのエージェントを確認できます)。",
    ),
    MessageDef(
        "195002",
        _ERR,
        "Cannot access OCF agent {agent} ({path}) on server {server}",
        "サーバ{server}の OCF エージェント{agent}({path})にアクセスできません",
        action_en="Install the package that provides the agent on that server "
        "(resource-agents for ocf:heartbeat:*), or check its name with standfast kits.",
        action_ja="そのサーバにエージェントを提供するパッケージ(ocf:heartbeat:* は "
        "resource-agents)をインストールするか、standfast kits で名前を確認してください。",
    ),
    MessageDef(
        "195003",
        _ERR,
        "The meta-data action of OCF agent {agent} failed on server {server}: {reason}",
        "サーバ{server}で OCF エージェント{agent}の meta-data アクションが失敗しました: {reason}",
    ),
    MessageDef(
        "195004",
        _ERR,
        "The meta-data of OCF agent {agent} cannot be read: {reason}",
        "OCF エージェント{agent}の meta-data を読み取れません: {reason}",
    ),
    MessageDef(
        "195005",
        _ERR,
        "OCF agent {agent} has a parameter named {name}, a property name the ocf kit "
        "keeps for itself",
        "OCF エージェント{agent}のパラメータ名{name}は ocf キットが予約しているプロパティ名です",
    ),
    MessageDef(
        "195006",
        _ERR,
        'Resource id "{id}" cannot name an OCF resource instance: use 1-64 of '
        "A-Z a-z 0-9 _ . - starting with a letter or digit",
        'リソースID"{id}"は OCF リソースインスタンス名にできません: 英数字で始まる 1-64 文字の '
        "A-Z a-z 0-9 _ . - を使用してください",
    ),
    MessageDef(
        "195010",
        _ERR,
        "OCF agent {agent} refused the properties of {tag} on server {server} "
        "(validate-all: {meaning}): {output}",
        "サーバ{server}で OCF エージェント{agent}が{tag}のプロパティを拒否しました"
        "(validate-all: {meaning}): {output}",
        action_en="Correct the properties (standfast kits --agent AGENT lists them); "
        "nothing was created.",
        action_ja="プロパティを修正してください"
        "(standfast kits --agent エージェント で一覧できます)。何も作成されていません。",
    ),
    MessageDef(
        "195011",
        _ERR,
        "Action {action} of {tag} (OCF agent {agent}) failed on server {server}: "
        "{meaning}: {output}",
        "サーバ{server}で{tag}(OCF エージェント{agent})のアクション{action}が失敗しました: "
        "{meaning}: {output}",
    ),
    MessageDef(
        "195012",
        _ERR,
        "Action {action} of {tag} (OCF agent {agent}) did not finish within {seconds} s "
        "on server {server}",
        "サーバ{server}で{tag}(OCF エージェント{agent})のアクション{action}が{seconds}秒以内に"
        "終了しませんでした",
        action_en="Find why the agent hangs, or give the action more time "
        "(property timeout_start, timeout_stop or timeout_monitor).",
        action_ja="エージェントが停止しない原因を調べるか、アクションの時間を延ばしてください"
        "(プロパティ timeout_start、timeout_stop、timeout_monitor)。",
    ),
    MessageDef(
        "195013",
        _ERR,
        "Monitor (OCF_CHECK_LEVEL {depth}) of {tag} (OCF agent {agent}) failed on server "
        "{server}: {meaning}: {output}",
        "サーバ{server}で{tag}(OCF エージェント{agent})のモニタ(OCF_CHECK_LEVEL {depth})が"
        "失敗しました: {meaning}: {output}",
    ),
    MessageDef(
        "195014",
        _ERR,
        "{tag} (OCF agent {agent}) has a configuration error on server {server} "
        "(action {action}: {meaning}): {output}; no other server is tried until it is "
        "corrected",
        "サーバ{server}で{tag}(OCF エージェント{agent})に構成エラーがあります"
        "(アクション{action}: {meaning}): {output}。修正されるまで他のサーバは試行されません",
        action_en="Correct the properties with standfast resource update, then bring the "
        "resource in service.",
        action_ja="standfast resource update でプロパティを修正してから、リソースをサービス中に"
        "してください。",
    ),
    MessageDef(
        "195015",
        _ERR,
        "{tag} (OCF agent {agent}) cannot run on server {server} (action {action}: "
        "{meaning}): {output}; the next server is tried",
        "{tag}(OCF エージェント{agent})はサーバ{server}で実行できません(アクション{action}: "
        "{meaning}): {output}。次のサーバが試行されます",
    ),
    MessageDef(
        "195016",
        _WARN,
        "Monitor of {tag} (OCF agent {agent}) reports it degraded on server {server}: {output}",
        "サーバ{server}で{tag}(OCF エージェント{agent})のモニタが縮退を報告しました: {output}",
    ),
)
