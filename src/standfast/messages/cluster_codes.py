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
        'Unknown quorum mode "{value}": use majority, none, tcp_witness, storage_witness or etcd',
        '不明なクォーラム・モード "{value}" です: majority、none、tcp_witness、'
        "storage_witness または etcd を指定してください",
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
    MessageDef(
        "193022",
        _ERR,
        "In service of {tag} refused on server {server}: no quorum ({votes} of {needed} votes)",
        "サーバ {server} で {tag} のインサービスを拒否しました: クォーラムがありません "
        "({needed} 票中 {votes} 票)",
        "Restore the comm paths to the other servers, or bring it in service where the "
        "cluster has quorum.",
        "他のサーバへのコミュニケーションパスを回復するか、クォーラムのあるサーバで"
        "インサービスにしてください。",
    ),
    MessageDef(
        "193023",
        _ERR,
        "In service of {tag} on server {server} must wait: {reason}",
        "サーバ {server} での {tag} のインサービスは待つ必要があります: {reason}",
        "Try again when the reason has passed (see standfast simulate).",
        "理由が解消してから再実行してください (standfast simulate を参照)。",
    ),
    MessageDef(
        "193024",
        _WARN,
        "{tag} was found running on server {server} at start while {holder} holds it: "
        "stopping the local copy",
        "起動時にサーバ {server} で {tag} が動作していましたが {holder} が保持しています: "
        "ローカルのコピーを停止します",
    ),
    MessageDef(
        "193025",
        _INFO,
        "{tag} was found running on server {server} at start and nobody else holds it: kept",
        "起動時にサーバ {server} で {tag} が動作しており、他に保持するサーバがありません: "
        "そのまま使用します",
    ),
    MessageDef(
        "193026",
        _ERR,
        "The operator action on {tag} was stopped on server {server}: quorum lost "
        "({votes} of {needed} votes); its hierarchies are taken out of service here",
        "サーバ {server} での {tag} に対する操作を中止しました: クォーラムを失いました "
        "({needed} 票中 {votes} 票)。階層はこのサーバでアウトオブサービスにします",
        "Restore the comm paths to the other servers, or act where the cluster has quorum.",
        "他のサーバへのコミュニケーションパスを回復するか、クォーラムのあるサーバで"
        "操作してください。",
    ),
    MessageDef(
        "193028",
        _ERR,
        "Unknown setting {key} in {where} of the cluster definition ({hint})",
        "クラスタ定義の {where} に不明な設定 {key} があります ({hint})",
        "Correct or remove the setting (docs/cluster.md lists every one); nothing was changed.",
        "設定を修正または削除してください (docs/cluster.md にすべての設定があります)。"
        "何も変更していません。",
    ),
    MessageDef(
        "193029",
        _ERR,
        "{key} must be a port number from 1 to 65535, not {value}",
        "{key} は 1 から 65535 のポート番号でなければなりません ({value} は使用できません)",
    ),
    MessageDef(
        "193030",
        _ERR,
        "The switchover drill of {tag} cannot start: {reason}",
        "{tag} のスイッチオーバー訓練を開始できません: {reason}",
        "Make the hierarchy healthy (in service on one server, every copy out of service "
        "and not failed, every server up), then run the drill again.",
        "階層を正常な状態 (1 台でインサービス、他のコピーは障害なくアウトオブサービス、"
        "全サーバ稼働) にしてから、もう一度訓練を実行してください。",
    ),
    MessageDef(
        "193031",
        _INFO,
        "Switchover drill of {tag} passed: {steps}",
        "{tag} のスイッチオーバー訓練に成功しました: {steps}",
    ),
    MessageDef(
        "193032",
        _ERR,
        "Switchover drill of {tag} failed ({reason}): {steps}",
        "{tag} のスイッチオーバー訓練に失敗しました ({reason}): {steps}",
        "Repair what the failed step names on that server before relying on it for a failover.",
        "フェイルオーバー先として使う前に、失敗した手順が示すサーバの問題を修正してください。",
    ),
    MessageDef(
        "193033",
        _ERR,
        "Configuration change refused on server {server}: no quorum ({votes} of {needed} "
        "votes); nothing was changed",
        "サーバ {server} で構成の変更を拒否しました: クォーラムがありません "
        "({needed} 票中 {votes} 票)。何も変更していません",
        "A change made apart from the majority would be replaced when the cluster is whole "
        "again (193016). Restore the comm paths, or make the change on a server that has "
        "quorum.",
        "多数派から離れて行った変更は、クラスタが元に戻ったときに置き換えられます (193016)。"
        "コミュニケーションパスを回復するか、クォーラムのあるサーバで変更してください。",
    ),
    MessageDef(
        "193034",
        _ERR,
        "Configuration change refused on server {server}: {holders} of the {needed} "
        "servers needed hold it; it was undone",
        "サーバ {server} で構成の変更を拒否しました: 必要な {needed} 台のうち {holders} 台"
        "しか保持していません。変更は取り消しました",
        "Another server changed the configuration at the same time, or peers did not answer "
        "in time (a partition quorum has not noticed yet); a change no majority holds may "
        "be replaced by another (193016). Once every server shows the same configuration "
        "version (standfast status), make the change again if it is still needed.",
        "別のサーバが同時に構成を変更したか、他のサーバが時間内に応答しませんでした "
        "(クォーラムがまだ検知していない分断)。多数派が保持していない変更は別の変更で"
        "置き換えられることがあります (193016)。すべてのサーバで構成バージョンが一致したら "
        "(standfast status)、必要であれば変更をやり直してください。",
    ),
    MessageDef(
        "193027",
        _WARN,
        "The daemon on server {server} did not run for {seconds} s (stopped or starved): "
        "it brings nothing into service for {wait} s, until it has heard its peers again",
        "サーバ {server} のデーモンが {seconds} 秒間動作していませんでした (停止または過負荷): "
        "他のサーバから再び受信するまで {wait} 秒間、何もインサービスにしません",
        "Find what stopped or starved the daemon (a SIGSTOP, a frozen virtual machine, "
        "CPU or memory pressure); a watchdog (SF_WATCHDOG_DEVICE) resets a server whose "
        "daemon stops for longer than its timeout.",
        "デーモンを停止させた、または過負荷にしたもの (SIGSTOP、仮想マシンの一時停止、"
        "CPU やメモリの逼迫) を調べてください。ウォッチドッグ (SF_WATCHDOG_DEVICE) は、"
        "タイムアウトより長くデーモンが止まったサーバをリセットします。",
    ),
)
