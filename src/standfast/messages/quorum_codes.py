"""Messages of quorum, witnesses and fencing (codes 192001-192099).

Blocks of twenty: 19200x-19201x quorum and the TCP witness, 19202x-19203x the storage
witness (lease file), 19204x-19205x fencing, 19206x bad configuration. The constants
below name the codes for the cluster code (log as ``"%s: ..." % code``); the
Japanese follows the guide's vocabulary (サーバ, リソース, サービス休止, クォーラム,
ウィットネス, フェンシング).

Severity as in :mod:`standfast.messages.own`: losing quorum is an ERROR (resources are
taken out of service) and FATAL when the quorum-loss action halts the server; a
witness or lease that cannot be reached is a WARNING (quorum may still hold through the
peers); progress and recovery are INFO.
"""

from __future__ import annotations

from typing import Final

from standfast.messages import MessageDef, Severity

QUORUM_LOST: Final = "192001"
QUORUM_LOST_HALT: Final = "192002"
QUORUM_REGAINED: Final = "192003"
WITNESS_UNREACHABLE: Final = "192004"
WITNESS_REACHABLE: Final = "192005"
WITNESS_GRANTED: Final = "192006"
WITNESS_REFUSED: Final = "192007"
WITNESS_DROPPED_REQUEST: Final = "192008"
WITNESS_LISTENING: Final = "192009"
WITNESS_BIND_FAILED: Final = "192010"
LEASE_TAKEN: Final = "192021"
LEASE_LOST: Final = "192022"
LEASE_HUNG: Final = "192023"
LEASE_HELD_BY_OTHER: Final = "192024"
LEASE_FILE_BAD: Final = "192025"
LEASE_RELEASED: Final = "192026"
FENCE_ATTEMPT: Final = "192041"
FENCE_SUCCEEDED: Final = "192042"
FENCE_FAILED: Final = "192043"
FENCE_UNCONFIRMED: Final = "192044"
FENCE_TIMED_OUT: Final = "192045"
FENCE_CONFIRMED: Final = "192046"
FENCE_NOT_CONFIGURED: Final = "192047"
BAD_QUORUM_CONFIG: Final = "192061"
BAD_FENCE_CONFIG: Final = "192062"
BAD_WITNESS_CONFIG: Final = "192063"
BAD_FENCE_AGENT: Final = "192070"
FENCE_AGENT_PARAMETER: Final = "192071"

_FATAL = Severity.FATAL
_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

_QUORUM = (
    MessageDef(
        "192001",
        _ERR,
        "Server {server} lost quorum ({reason}): its resources are taken out of service",
        "サーバ {server} はクォーラムを失いました ({reason}): リソースをサービス休止にします",
        action_en="Restore the comm paths to the other servers or the witness.",
        action_ja="他のサーバまたはウィットネスへのコミュニケーションパスを復旧してください。",
    ),
    MessageDef(
        "192002",
        _FATAL,
        "Server {server} lost quorum ({reason}): the server is halted",
        "サーバ {server} はクォーラムを失いました ({reason}): サーバを停止します",
    ),
    MessageDef(
        "192003",
        _INFO,
        "Server {server} has quorum again ({reason})",
        "サーバ {server} はクォーラムを回復しました ({reason})",
    ),
    MessageDef(
        "192004",
        _WARN,
        "Witness {witness} is unreachable from server {server}: {reason}",
        "サーバ {server} からウィットネス {witness} に到達できません: {reason}",
        action_en="Check the network between the server and the witness, and the witness itself.",
        action_ja="サーバとウィットネスの間のネットワーク、およびウィットネス自体を確認してください。",
    ),
    MessageDef(
        "192005",
        _INFO,
        "Witness {witness} is reachable again from server {server}",
        "サーバ {server} からウィットネス {witness} に再び到達できるようになりました",
    ),
    MessageDef(
        "192006",
        _INFO,
        "Witness granted the tie-break vote to servers {partition}",
        "ウィットネスはタイブレークの票をサーバ {partition} に与えました",
    ),
    MessageDef(
        "192007",
        _WARN,
        "Witness refused the tie-break vote to servers {partition}: it is held by {holder}",
        "ウィットネスはサーバ {partition} へのタイブレークの票を拒否しました: "
        "票は {holder} が保持しています",
    ),
    MessageDef(
        "192008",
        _WARN,
        "Witness dropped a request from {source}: {reason}",
        "ウィットネスは {source} からの要求を破棄しました: {reason}",
        action_en="Check that the witness and every server have the same cluster key.",
        action_ja="ウィットネスとすべてのサーバのクラスタ鍵が同じか確認してください。",
    ),
    MessageDef(
        "192009",
        _INFO,
        "Witness listening on {address} port {port}",
        "ウィットネスは {address} のポート {port} で待ち受けています",
    ),
    MessageDef(
        "192010",
        _ERR,
        "Witness cannot listen on {address} port {port}: {reason}",
        "ウィットネスは {address} のポート {port} で待ち受けできません: {reason}",
    ),
)

_LEASE = (
    MessageDef(
        "192021",
        _INFO,
        "Server {server} took the storage lease {path} (generation {generation})",
        "サーバ {server} がストレージリース {path} を取得しました (世代 {generation})",
    ),
    MessageDef(
        "192022",
        _ERR,
        "Server {server} lost the storage lease {path} to server {owner}",
        "サーバ {server} はストレージリース {path} をサーバ {owner} に奪われました",
    ),
    MessageDef(
        "192023",
        _WARN,
        "Storage lease {path} did not answer within {seconds} seconds",
        "ストレージリース {path} が {seconds} 秒以内に応答しませんでした",
        action_en="Check the NFS server and the network path to it.",
        action_ja="NFS サーバおよびそこへのネットワーク経路を確認してください。",
    ),
    MessageDef(
        "192024",
        _INFO,
        "Storage lease {path} is held by server {owner}",
        "ストレージリース {path} はサーバ {owner} が保持しています",
    ),
    MessageDef(
        "192025",
        _ERR,
        "Storage lease file {path} cannot be used: {reason}",
        "ストレージリースファイル {path} を使用できません: {reason}",
        action_en="Check the file and the permissions of its directory on the export.",
        action_ja="エクスポート上のファイルとそのディレクトリのアクセス権を確認してください。",
    ),
    MessageDef(
        "192026",
        _INFO,
        "Server {server} released the storage lease {path}",
        "サーバ {server} がストレージリース {path} を解放しました",
    ),
)

_FENCING = (
    MessageDef(
        "192041",
        _INFO,
        "Fencing server {target}: attempt {attempt} of {attempts}",
        "サーバ {target} のフェンシングを実行しています: {attempts} 回中 {attempt} 回目",
    ),
    MessageDef(
        "192042",
        _INFO,
        "Server {target} was fenced after {attempt} attempts in {seconds} seconds",
        "サーバ {target} のフェンシングに成功しました ({attempt} 回目, {seconds} 秒)",
    ),
    MessageDef(
        "192043",
        _ERR,
        "Fencing server {target} failed after {attempts} attempts: {reason}",
        "サーバ {target} のフェンシングが {attempts} 回の試行の後に失敗しました: {reason}",
        action_en="Check the fence device and the fence command; the takeover is not done.",
        action_ja="フェンスデバイスとフェンスコマンドを確認してください。切り替えは行われません。",
    ),
    MessageDef(
        "192044",
        _ERR,
        "Fencing of server {target} could not be confirmed: {reason}",
        "サーバ {target} のフェンシングを確認できませんでした: {reason}",
        action_en="Check by hand that the server is powered off before forcing a takeover.",
        action_ja="強制的に切り替える前に、サーバの電源が切れていることを手動で確認してください。",
    ),
    MessageDef(
        "192045",
        _WARN,
        "Fence command for server {target} did not finish within {seconds} seconds "
        "(attempt {attempt})",
        "サーバ {target} のフェンスコマンドが {seconds} 秒以内に終了しませんでした "
        "({attempt} 回目)",
    ),
    MessageDef(
        "192046",
        _INFO,
        "Fencing of server {target} confirmed",
        "サーバ {target} のフェンシングを確認しました",
    ),
    MessageDef(
        "192047",
        _ERR,
        "No fence command is configured for server {target}",
        "サーバ {target} のフェンスコマンドが設定されていません",
    ),
)

_CONFIG = (
    MessageDef(
        "192061",
        _ERR,
        "Bad quorum configuration: {reason}",
        "クォーラムの設定が正しくありません: {reason}",
    ),
    MessageDef(
        "192062",
        _ERR,
        "Bad fencing configuration: {reason}",
        "フェンシングの設定が正しくありません: {reason}",
    ),
    MessageDef(
        "192063",
        _ERR,
        "Bad witness configuration: {reason}",
        "ウィットネスの設定が正しくありません: {reason}",
    ),
    MessageDef(
        "192070",
        _ERR,
        "Bad fence agent setting: {reason}",
        "フェンスエージェントの設定が正しくありません: {reason}",
        action_en="Correct the fencing section of the cluster definition (docs/cluster.md).",
        action_ja="クラスタ定義の fencing セクションを修正してください (docs/cluster.md)。",
    ),
    MessageDef(
        "192071",
        _ERR,
        "Fence agent {agent} has no parameter {name} (its metadata lists: {known})",
        "フェンスエージェント {agent} にパラメータ {name} はありません (メタデータ: {known})",
        action_en="Run the agent with -o metadata and use the parameter names it lists.",
        action_ja="エージェントを -o metadata で実行し、表示されるパラメータ名を使用してください。",
    ),
)

QUORUM_MESSAGES: tuple[MessageDef, ...] = (*_QUORUM, *_LEASE, *_FENCING, *_CONFIG)

#: Placeholders of each message (what callers must pass), for tests and docs.
QUORUM_FIELDS: dict[str, frozenset[str]] = {
    "192001": frozenset({"server", "reason"}),
    "192002": frozenset({"server", "reason"}),
    "192003": frozenset({"server", "reason"}),
    "192004": frozenset({"witness", "server", "reason"}),
    "192005": frozenset({"witness", "server"}),
    "192006": frozenset({"partition"}),
    "192007": frozenset({"partition", "holder"}),
    "192008": frozenset({"source", "reason"}),
    "192009": frozenset({"address", "port"}),
    "192010": frozenset({"address", "port", "reason"}),
    "192021": frozenset({"server", "path", "generation"}),
    "192022": frozenset({"server", "path", "owner"}),
    "192023": frozenset({"path", "seconds"}),
    "192024": frozenset({"path", "owner"}),
    "192025": frozenset({"path", "reason"}),
    "192026": frozenset({"server", "path"}),
    "192041": frozenset({"target", "attempt", "attempts"}),
    "192042": frozenset({"target", "attempt", "seconds"}),
    "192043": frozenset({"target", "attempts", "reason"}),
    "192044": frozenset({"target", "reason"}),
    "192045": frozenset({"target", "seconds", "attempt"}),
    "192046": frozenset({"target"}),
    "192047": frozenset({"target"}),
    "192061": frozenset({"reason"}),
    "192062": frozenset({"reason"}),
    "192063": frozenset({"reason"}),
    "192070": frozenset({"reason"}),
    "192071": frozenset({"agent", "name", "known"}),
}

__all__ = [
    "BAD_FENCE_AGENT",
    "BAD_FENCE_CONFIG",
    "BAD_QUORUM_CONFIG",
    "BAD_WITNESS_CONFIG",
    "FENCE_AGENT_PARAMETER",
    "FENCE_ATTEMPT",
    "FENCE_CONFIRMED",
    "FENCE_FAILED",
    "FENCE_NOT_CONFIGURED",
    "FENCE_SUCCEEDED",
    "FENCE_TIMED_OUT",
    "FENCE_UNCONFIRMED",
    "LEASE_FILE_BAD",
    "LEASE_HELD_BY_OTHER",
    "LEASE_HUNG",
    "LEASE_LOST",
    "LEASE_RELEASED",
    "LEASE_TAKEN",
    "QUORUM_FIELDS",
    "QUORUM_LOST",
    "QUORUM_LOST_HALT",
    "QUORUM_MESSAGES",
    "QUORUM_REGAINED",
    "WITNESS_BIND_FAILED",
    "WITNESS_DROPPED_REQUEST",
    "WITNESS_GRANTED",
    "WITNESS_LISTENING",
    "WITNESS_REACHABLE",
    "WITNESS_REFUSED",
    "WITNESS_UNREACHABLE",
]
