"""Messages of cluster membership, placement and replication (193001-193099)."""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

CLUSTER_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "193001",
        _ERR,
        "Cluster definition is invalid: {reason}",
        "クラスタ定義が不正です: {reason}",
    ),
    MessageDef(
        "193002",
        _ERR,
        "Server {server} is not a member of cluster {cluster}",
        "サーバ {server} はクラスタ {cluster} のメンバではありません",
    ),
    MessageDef(
        "193003",
        _ERR,
        "Address {address} of server {server} on network {network} is not an IP address",
        "ネットワーク {network} 上のサーバ {server} のアドレス {address} は"
        "IP アドレスではありません",
    ),
    MessageDef(
        "193004",
        _ERR,
        "Server {server} has no address on any comm-path network",
        "サーバ {server} にはどのコミュニケーションパスのネットワークにもアドレスがありません",
    ),
    MessageDef(
        "193005",
        _ERR,
        'Unknown quorum mode "{value}": use majority or none',
        '不明なクォーラム・モード "{value}" です: majority または none を指定してください',
    ),
    MessageDef(
        "193006",
        _ERR,
        'Unknown quorum loss action "{value}": use out_of_service or halt',
        '不明なクォーラム喪失時の動作 "{value}" です: '
        "out_of_service または halt を指定してください",
    ),
    MessageDef(
        "193007",
        _ERR,
        "Address {address} of server {server} is already used by server {other}",
        "サーバ {server} のアドレス {address} はサーバ {other} がすでに使用しています",
    ),
    MessageDef(
        "193008",
        _ERR,
        "This server is not part of a cluster (no definition in {path})",
        "このサーバはクラスタに属していません ({path} に定義がありません)",
        action_en="Create the cluster with standfast cluster init, or copy the cluster "
        "definition and key from another server.",
        action_ja="standfast cluster init でクラスタを作成するか、他のサーバから"
        "クラスタ定義と鍵をコピーしてください。",
    ),
    MessageDef(
        "193009",
        _ERR,
        "Hierarchy {tag} must be in service on template server {server} to be extended",
        "階層 {tag} を拡張するには、テンプレート・サーバ {server} でサービス中でなければなりません",
    ),
    MessageDef(
        "193010",
        _ERR,
        "Server {server} is not alive: cannot {operation}",
        "サーバ {server} が稼働していないため {operation} できません",
    ),
    MessageDef(
        "193011",
        _ERR,
        "Cannot unextend {tag} from server {server}: it is in service there",
        "サーバ {server} でサービス中のため、{tag} を拡張解除できません",
        action_en="Take the hierarchy out of service on that server or switch it over first.",
        action_ja="先にそのサーバで階層をサービス休止にするか、切り替えてください。",
    ),
    MessageDef(
        "193012",
        _ERR,
        "No quorum on server {server} ({votes} of {needed} votes): hierarchies are not "
        "brought into service here",
        "サーバ {server} にクォーラムがありません ({needed} 票中 {votes} 票): "
        "このサーバでは階層をサービス中にしません",
    ),
    MessageDef(
        "193013",
        _INFO,
        "Quorum regained on server {server}",
        "サーバ {server} でクォーラムが回復しました",
    ),
    MessageDef(
        "193014",
        _WARN,
        "Server {peer} failed: hierarchy {tag} fails over to server {target}",
        "サーバ {peer} の障害により、階層 {tag} をサーバ {target} へフェイルオーバーします",
    ),
    MessageDef(
        "193015",
        _INFO,
        "Automatic switchback of {tag} to server {target}",
        "{tag} をサーバ {target} へ自動スイッチバックします",
    ),
    MessageDef(
        "193016",
        _WARN,
        "Configuration version {version} from server {peer} replaces local version {local}",
        "サーバ {peer} の構成バージョン {version} でローカルのバージョン {local} を置き換えます",
    ),
    MessageDef(
        "193017",
        _ERR,
        "Failover to server {server} is blocked by its administrator",
        "サーバ {server} へのフェイルオーバーは管理者によりブロックされています",
    ),
    MessageDef(
        "193018",
        _INFO,
        "Switchover of {tag} from server {source} to server {target}",
        "{tag} をサーバ {source} からサーバ {target} へ切り替えます",
    ),
    MessageDef(
        "193019",
        _ERR,
        "Hierarchy {tag} has no copy on server {server}",
        "階層 {tag} はサーバ {server} に存在しません",
    ),
    MessageDef(
        "193020",
        _ERR,
        "Target server {server} refused the extension of {tag}: {reason}",
        "ターゲット・サーバ {server} が {tag} の拡張を拒否しました: {reason}",
    ),
    MessageDef(
        "193021",
        _INFO,
        "Configuration version {version} from server {peer} adopted (local version was {local})",
        "サーバ {peer} の構成バージョン {version} を採用しました (ローカルのバージョンは {local})",
    ),
)
