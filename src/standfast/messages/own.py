"""Standfast's own messages (codes 190000-199999), beyond those of the guide.

Blocks of a hundred by area: 1900xx input and model, 1901xx configuration
database, 1902xx daemon and requests, 1903xx defaults file, 1904xx NFS and mounts,
1905xx halting this server, 1906xx user commands, 1907xx BEGIN/END log lines.
The Japanese follows the guide's vocabulary (サーバ, リソース, 階層, サービス中,
サービス休止, 従属関係).

Severity: a refusal or failure is ERROR; something tolerated or worked around
(a bad tunable ignored, a forced unmount) is WARNING; progress is INFO; FATAL
only when the server itself is about to be halted. END-failed lines are ERROR,
like the guide's own 000022 and 000026.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_FATAL = Severity.FATAL
_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

_MODEL = (
    MessageDef(
        "190001",
        _ERR,
        'Tag "{tag}" is invalid: use letters, digits and - _ . / only',
        'タグ"{tag}"は無効です: 英字、数字および - _ . / のみを使用してください',
    ),
    MessageDef(
        "190002",
        _ERR,
        'Tag "{tag}" must not start with "." or "/"',
        'タグ"{tag}"は"."または"/"で始めることはできません',
    ),
    MessageDef(
        "190003",
        _ERR,
        'Tag "{tag}" is longer than 256 characters',
        'タグ"{tag}"が 256 文字を超えています',
    ),
    MessageDef(
        "190004",
        _ERR,
        "Tag is empty",
        "タグが空です",
        action_en="Give a tag name.",
        action_ja="タグ名を指定してください。",
    ),
    MessageDef(
        "190005",
        _ERR,
        "Priority {priority} is out of range: use 1-999 (1 is the highest)",
        "優先順位{priority}が範囲外です: 1 から 999 の値を使用してください"
        "(1 が最も高い優先順位です)",
    ),
    MessageDef(
        "190006",
        _ERR,
        "Priority {priority} is already used by server {server} in hierarchy {tag}",
        "優先順位{priority}は階層{tag}ですでにサーバ{server}が使用しています",
        action_en="Choose a priority that no other server of the hierarchy uses.",
        action_ja="階層内の他のサーバが使用していない優先順位を指定してください。",
    ),
    MessageDef(
        "190007",
        _ERR,
        "Dependency from {parent} to {child} would create a cycle",
        "{parent}から{child}への従属関係を作成すると循環が発生します",
    ),
    MessageDef(
        "190008",
        _ERR,
        "Dependency from {parent} to {child} already exists",
        "{parent}から{child}への従属関係はすでに存在します",
    ),
    MessageDef(
        "190009",
        _ERR,
        "Dependency from {parent} to {child} does not exist on server {server}",
        "サーバ{server}に{parent}から{child}への従属関係は存在しません",
    ),
    MessageDef(
        "190010",
        _ERR,
        'Unknown kit "{kit}" (known kits: {known})',
        '不明なキット"{kit}"です(使用できるキット: {known})',
    ),
    MessageDef(
        "190011",
        _ERR,
        'Invalid value "{value}" for property {name} of kit {kit}: {reason}',
        'キット{kit}のプロパティ{name}の値"{value}"が無効です: {reason}',
    ),
    MessageDef(
        "190012",
        _ERR,
        "Unknown property {name} for kit {kit}",
        "キット{kit}に不明なプロパティ{name}が指定されました",
    ),
    MessageDef(
        "190013",
        _ERR,
        "Missing required property {name} for kit {kit}",
        "キット{kit}の必須プロパティ{name}が指定されていません",
    ),
    MessageDef(
        "190014",
        _ERR,
        'Invalid switchback type "{value}": use intelligent or automatic',
        'スイッチバック・タイプ"{value}"が無効です: intelligent または automatic を'
        "指定してください",
    ),
    MessageDef(
        "190015",
        _ERR,
        "Resource {tag} has dependents ({parents}) on server {server}: delete them first,"
        " or delete the whole hierarchy from its root",
        "サーバ{server}のリソース{tag}に依存するリソース({parents})があります: 先にそれらを"
        "削除するか、ルートから階層全体を削除してください",
    ),
    MessageDef(
        "190016",
        _ERR,
        "Resource {tag} is in service on server {server}: take it out of service first",
        "リソース{tag}はサーバ{server}でサービス中です: 先にサービス休止にしてください",
    ),
    MessageDef(
        "190017",
        _ERR,
        "Property {name} of kit {kit} cannot be changed after creation",
        "キット{kit}のプロパティ{name}は作成後に変更できません",
        action_en="Delete the resource and create it again with the new value.",
        action_ja="リソースを削除し、新しい値で作成し直してください。",
    ),
    MessageDef(
        "190018",
        _ERR,
        "A dependency cannot join {parent} and {child}: they are in service in different"
        " states ({parent_state}, {child_state})",
        "{parent}と{child}の間に従属関係を作成できません: サービスの状態が異なります"
        "({parent_state}、{child_state})",
        action_en=(
            "Bring both resources to the same state on this server (both in service or"
            " both out of service), then create the dependency."
        ),
        action_ja=(
            "このサーバで両方のリソースを同じ状態(両方ともサービス中、または両方とも"
            "サービス休止)にしてから、従属関係を作成してください。"
        ),
    ),
    MessageDef(
        "190019",
        _ERR,
        "Resource {tag} is not a hierarchy root; give the root tag ({root})",
        "リソース{tag}は階層のルートではありません。ルートのタグ({root})を指定してください",
    ),
    MessageDef(
        "190021",
        _ERR,
        "Server {server} would hold {count} resource instances: their states take {size}"
        " bytes, more than a heartbeat carries ({limit})",
        "サーバ{server}のリソース・インスタンスが{count}個になります: その状態は{size}バイトで、"
        "ハートビートで送れる量({limit})を超えます",
        action_en="Use shorter tags, or spread the hierarchies over more servers.",
        action_ja="タグを短くするか、階層を複数のサーバに分散してください。",
    ),
    MessageDef(
        "190022",
        _ERR,
        'Tag "{tag}" must not have "." or ".." as a part between slashes',
        'タグ"{tag}"のスラッシュで区切られた部分に"."または".."を使用することはできません',
        action_en='Give a tag without "." or ".." parts, for example app-db instead of x/../db.',
        action_ja='"."や".."の部分を含まないタグ(例: x/../db ではなく app-db)を指定してください。',
    ),
    MessageDef(
        "190023",
        _ERR,
        'Invalid id "{id}" for kit {kit}: {reason}',
        'キット{kit}の ID "{id}"が無効です: {reason}',
    ),
    MessageDef(
        "190024",
        _ERR,
        'Invalid value "{value}" for option {option}: {reason}',
        'オプション{option}の値"{value}"が無効です: {reason}',
    ),
    MessageDef(
        "190020",
        _ERR,
        'Invalid state "{value}"',
        '状態"{value}"が無効です',
        action_en="Use one of ISP, ISU, OSU, OSF or UNKNOWN.",
        action_ja="ISP、ISU、OSU、OSF、UNKNOWN のいずれかを指定してください。",
    ),
)

_DATABASE = (
    MessageDef(
        "190101",
        _ERR,
        "Cannot open configuration database {path}: {reason}",
        "設定データベース{path}を開けません: {reason}",
    ),
    MessageDef(
        "190102",
        _ERR,
        "Configuration database {path} has schema version {found};"
        " this Standfast expects {expected}",
        "設定データベース{path}のスキーマ・バージョンは{found}ですが、"
        "この Standfast は{expected}を必要とします",
        action_en=(
            "Run the Standfast version that wrote the database, or restore a configuration"
            " backup made by this version."
        ),
        action_ja=(
            "データベースを作成したバージョンの Standfast を実行するか、このバージョンで"
            "作成した設定のバックアップを復元してください。"
        ),
    ),
    MessageDef(
        "190103",
        _ERR,
        "Configuration change conflicted with version {version}; nothing was changed, try again",
        "設定の変更がバージョン{version}と競合しました。何も変更されていません。再試行してください",
    ),
)

_DAEMON = (
    MessageDef(
        "190201",
        _ERR,
        "Cannot reach the Standfast daemon at {socket}: {reason}",
        "{socket}の Standfast デーモンに接続できません: {reason}",
        action_en="Check that the Standfast daemon is running on this server.",
        action_ja="このサーバで Standfast デーモンが動作していることを確認してください。",
    ),
    MessageDef(
        "190202",
        _ERR,
        "The daemon did not answer within {seconds} s",
        "デーモンが{seconds}秒以内に応答しませんでした",
    ),
    MessageDef(
        "190203",
        _ERR,
        "Permission denied: user {user} may not {operation}",
        "権限がありません: ユーザ{user}には{operation}の権限がありません",
    ),
    MessageDef(
        "190204",
        _ERR,
        "Another action is running on hierarchy {tag}; try again when it ends",
        "階層{tag}で別の操作を実行中です。終了してから再試行してください",
    ),
    MessageDef(
        "190205",
        _ERR,
        "A Standfast daemon is already running on socket {socket}",
        "ソケット{socket}で Standfast デーモンがすでに動作しています",
    ),
    MessageDef(
        "190206",
        _ERR,
        "Invalid request: {detail}",
        "無効なリクエストです: {detail}",
    ),
    MessageDef(
        "190207",
        _ERR,
        "{action} of {tag} exceeded its time limit of {seconds} s and was abandoned",
        "{tag}の{action}が制限時間{seconds}秒を超えたため中止しました",
    ),
    MessageDef(
        "190208",
        _INFO,
        "Daemon started on server {server} (version {version})",
        "サーバ{server}でデーモンを開始しました(バージョン{version})",
    ),
    MessageDef(
        "190209",
        _INFO,
        "Daemon stopping on server {server}",
        "サーバ{server}でデーモンを停止しています",
    ),
    MessageDef(
        "190210",
        _ERR,
        "The daemon answered HTTP {status} without a numbered message: {detail}",
        "デーモンが番号付きメッセージなしで HTTP {status} を返しました: {detail}",
        action_en="See the daemon's log on this server for the cause.",
        action_ja="原因については、このサーバのデーモンのログを参照してください。",
    ),
    # systemd's notification protocol (daemon/notify.py).
    MessageDef(
        "190213",
        _WARN,
        "The control loop has not finished a cycle for {seconds} s; the systemd watchdog"
        " ({interval} s) is no longer told the daemon is alive",
        "制御ループが{seconds}秒間サイクルを完了していません。systemd のウォッチドッグ"
        "({interval}秒)への生存通知を停止しました",
        action_en=(
            "systemd restarts the daemon when the watchdog interval passes; look for what"
            " blocked the loop in the lines before this one."
        ),
        action_ja=(
            "ウォッチドッグの間隔が過ぎると systemd がデーモンを再起動します。"
            "この行より前のログで、ループを止めた原因を確認してください。"
        ),
    ),
    MessageDef(
        "190214",
        _WARN,
        "Cannot notify systemd on {socket}: {reason}",
        "{socket}で systemd に通知できません: {reason}",
    ),
    MessageDef(
        "190215",
        _INFO,
        "Daemon ready on server {server} after {seconds} s (told systemd)",
        "サーバ{server}のデーモンが{seconds}秒で準備完了しました(systemd に通知済み)",
    ),
)

_DEFAULTS = (
    # Not fatal: the loader falls back to the built-in defaults.
    MessageDef(
        "190301",
        _WARN,
        "Cannot read defaults file {path}: {reason}",
        "デフォルト・ファイル{path}を読み込めません: {reason}",
        action_en=(
            "The built-in defaults are used until the file can be read; check its"
            " permissions and that it is UTF-8 text."
        ),
        action_ja=(
            "ファイルを読み込めるようになるまで組み込みのデフォルト値を使用します。"
            "ファイルのアクセス権と、UTF-8 のテキストであることを確認してください。"
        ),
    ),
    MessageDef(
        "190302",
        _WARN,
        'Invalid value "{value}" for tunable {name} in {path}: {reason}; using {default}',
        '{path}のチューニング・パラメータ{name}の値"{value}"が無効です: {reason}。'
        "{default}を使用します",
    ),
    MessageDef(
        "190303",
        _WARN,
        "Unknown tunable {name} in {path}; ignored",
        "{path}の不明なチューニング・パラメータ{name}を無視します",
    ),
    MessageDef(
        "190304",
        _WARN,
        "Line {line} of {path} is not NAME=VALUE; ignored",
        "{path}の{line}行目は NAME=VALUE の形式ではないため無視します",
    ),
    MessageDef(
        "190305",
        _WARN,
        "Illogical watchdog settings on {server} (SF_WATCHDOG_TIMEOUT {timeout}, "
        "SF_WATCHDOG_MARGIN {margin}): using 10 and 2",
        "{server} のウォッチドッグ設定が不適切です (SF_WATCHDOG_TIMEOUT {timeout}、"
        "SF_WATCHDOG_MARGIN {margin}): 10 と 2 を使用します",
        action_en=(
            "The timeout must be from 2 to 300 whole seconds and the margin at least 1 s"
            " and at most the timeout: peers wait timeout + margin before they take over."
        ),
        action_ja=(
            "タイムアウトは 2 から 300 の整数秒、マージンは 1 秒以上でタイムアウト以下に"
            "してください。ピアはタイムアウト + マージンを待ってから引き継ぎます。"
        ),
    ),
)


_NFS = (
    MessageDef(
        "190401",
        _ERR,
        "File system {export} appears {count} times in {fstab};"
        " protect a file system mounted on a single mount point",
        "ファイル・システム{export}が{fstab}に{count}回記述されています。"
        "1 つのマウント・ポイントにマウントされたファイル・システムを保護してください",
    ),
    MessageDef(
        "190402",
        _ERR,
        "{mount_point} is not an NFS-mounted file system on server {server}",
        "{mount_point}はサーバ{server}で NFS マウントされたファイル・システムではありません",
        action_en=(
            "Mount the export on this server by the NFS server's IP address first,"
            " then create the resource."
        ),
        action_ja=(
            "先にこのサーバで NFS サーバの IP アドレスを使用してエクスポートをマウントし、"
            "そのあとでリソースを作成してください。"
        ),
    ),
    MessageDef(
        "190403",
        _WARN,
        "{mount_point} is mounted by host name {host}; remounting it by IP address {ip}",
        "{mount_point}はホスト名{host}を使用してマウントされています。"
        "IP アドレス{ip}を使用して再マウントします",
        action_en=(
            "The remount can kill processes that use the mount point; mount NFS file"
            " systems by IP address."
        ),
        action_ja=(
            "再マウントではマウント・ポイントを使用しているプロセスが終了されることがあります。"
            "NFS ファイル・システムは IP アドレスを使用してマウントしてください。"
        ),
    ),
    MessageDef(
        "190404",
        _WARN,
        "Mount options of {mount_point} ({options}) make neither hard,intr"
        " nor soft semantics explicit",
        "{mount_point}のマウント・オプション({options})で hard,intr と soft の"
        "どちらも明示されていません",
        action_en="Add hard,intr or soft to the mount options explicitly.",
        action_ja="マウント・オプションに hard,intr または soft を明示的に追加してください。",
    ),
    MessageDef(
        "190405",
        _INFO,
        "Removing /etc/fstab entry for {mount_point} (backup in {backup})",
        "{mount_point}の /etc/fstab エントリを削除しています(バックアップ: {backup})",
    ),
    MessageDef(
        "190406",
        _INFO,
        "Restoring /etc/fstab entry for {mount_point}",
        "{mount_point}の /etc/fstab エントリを復元しています",
    ),
    MessageDef(
        "190407",
        _ERR,
        "NFS server {nfs_server} did not answer within {seconds} s",
        "NFS サーバ{nfs_server}が{seconds}秒以内に応答しませんでした",
    ),
    # One try of several; the failure, if any, is reported by the check itself.
    MessageDef(
        "190408",
        _WARN,
        "Mount point {mount_point} did not answer {call} within {seconds} s"
        " (try {attempt} of {tries})",
        "マウント・ポイント{mount_point}が{seconds}秒以内に{call}に応答しませんでした"
        "(試行 {attempt}/{tries})",
    ),
    MessageDef(
        "190409",
        _ERR,
        "{mount_point} is not mounted from {source} on server {server}",
        "{mount_point}はサーバ{server}で{source}からマウントされていません",
    ),
    MessageDef(
        "190410",
        _FATAL,
        "NAS access failed for {tag}; LKNASERROR=halt: halting server {server} now",
        "{tag}の NAS アクセスに失敗しました。LKNASERROR=halt のため、"
        "サーバ{server}をただちに停止します",
    ),
    MessageDef(
        "190411",
        _ERR,
        "NAS access failed for {tag} and hierarchy {root} has no backup server;"
        " it is now out of service (OSF)",
        "{tag}の NAS アクセスに失敗しましたが、階層{root}にはバックアップ・サーバが"
        "ありません。階層はサービス休止(OSF)になりました",
        action_en=(
            "Correct the NAS access problem, then bring the hierarchy in service by hand;"
            " extend it to a backup server so that it can fail over."
        ),
        action_ja=(
            "NAS のアクセス問題を訂正したあと、手動で階層をサービス中にしてください。"
            "フェイルオーバーできるように、階層をバックアップ・サーバへ拡張してください。"
        ),
    ),
    MessageDef(
        "190412",
        _WARN,
        "Unmount of {mount_point} is busy; sending {signal} to {pids}",
        "{mount_point}のアンマウントがビジーです。{pids}に{signal}を送信します",
        action_en=(
            "Let only processes under cluster protection use file systems that the NAS kit"
            " protects."
        ),
        action_ja=(
            "NAS 保護下のファイル・システムは、クラスタの保護下にあるプロセスのみが"
            "使用するように設定してください。"
        ),
    ),
    MessageDef(
        "190413",
        _WARN,
        "Unmount of {mount_point} needed the {method} method",
        "{mount_point}のアンマウントには{method}方式が必要でした",
    ),
    MessageDef(
        "190414",
        _ERR,
        "Cannot mount {source} on {mount_point}: {reason}",
        "{source}を{mount_point}にマウントできません: {reason}",
    ),
    MessageDef(
        "190415",
        _ERR,
        "Cannot unmount {mount_point}: {reason}",
        "{mount_point}をアンマウントできません: {reason}",
    ),
    MessageDef(
        "190416",
        _WARN,
        "Local recovery of {tag}: lazy unmount and remount of {mount_point}",
        "{tag}のローカル・リカバリー: {mount_point}を遅延アンマウントして再マウントします",
    ),
    MessageDef(
        "190417",
        _ERR,
        "Health check of {tag} failed: {reason}",
        "{tag}のヘルス・チェックに失敗しました: {reason}",
    ),
    MessageDef(
        "190418",
        _ERR,
        "NFS server {nfs_server} does not export {export} to server {server}",
        "NFS サーバ{nfs_server}は{export}をサーバ{server}にエクスポートしていません",
        action_en="Add this server to the export's client list on the NFS server, then try again.",
        action_ja=(
            "NFS サーバでエクスポートのクライアント・リストにこのサーバを追加してから、"
            "再試行してください。"
        ),
    ),
    MessageDef(
        "190419",
        _ERR,
        "Host name {host} cannot be resolved: {reason}",
        "ホスト名{host}を解決できません: {reason}",
        action_en="Give the NFS server by its IP address rather than a host name.",
        action_ja="NFS サーバはホスト名ではなく IP アドレスで指定してください。",
    ),
    MessageDef(
        "190420",
        _WARN,
        "The check of {tag} could not run on server {server}: the daemon lacks {reason}; "
        "the resource is not failed for it and the check is tried again",
        "サーバ{server}で{tag}のチェックを実行できませんでした: デーモンの{reason}が"
        "不足しています。リソースは障害とせず、チェックを再試行します",
        action_en=(
            "Find what holds the daemon's file descriptors or memory (ls /proc/PID/fd, "
            "the connections to its API); raise LimitNOFILE in its unit if it is too low."
        ),
        action_ja=(
            "デーモンのファイル記述子やメモリを使っているもの (ls /proc/PID/fd、API への接続) を"
            "調べ、低すぎる場合はユニットの LimitNOFILE を上げてください。"
        ),
    ),
    MessageDef(
        "190421",
        _ERR,
        "{command} could not be started: the daemon lacks {reason} ({error})",
        "{command}を開始できませんでした: デーモンの{reason}が不足しています ({error})",
    ),
    MessageDef(
        "190422",
        _WARN,
        "The standby copy {tag} on server {server} could not be prepared for a takeover "
        "({reason}); a takeover will do it then, more slowly",
        "サーバ{server}のスタンバイ{tag}をテイクオーバーに備えて準備できませんでした "
        "({reason})。テイクオーバー時に行うため、時間がかかります",
        action_en=(
            "Install what is missing (nfs-common, the kernel's NFS client modules) or "
            "mend the reason; the daemon tries again every few minutes."
        ),
        action_ja=(
            "不足しているもの (nfs-common、カーネルの NFS クライアント・モジュール) を"
            "インストールするか原因を取り除いてください。デーモンは数分ごとに再試行します。"
        ),
    ),
    MessageDef(
        "190423",
        _INFO,
        "The standby copy {tag} on server {server} is prepared for a takeover: {done}",
        "サーバ{server}のスタンバイ{tag}をテイクオーバーに備えて準備しました: {done}",
    ),
)

_COMMANDS = (
    MessageDef(
        "190601",
        _ERR,
        "The {action} command of {tag} exited with status {status}: {output}",
        "{tag}の{action}コマンドが終了ステータス{status}で終了しました: {output}",
    ),
    MessageDef(
        "190602",
        _ERR,
        "The {action} command of {tag} exceeded its time limit of {seconds} s and was killed",
        "{tag}の{action}コマンドが制限時間{seconds}秒を超えたため強制終了しました",
    ),
    MessageDef(
        "190603",
        _ERR,
        "Command {command} for {tag} is not an executable file",
        "{tag}のコマンド{command}は実行可能ファイルではありません",
        action_en="Give the absolute path of a file with execute permission.",
        action_ja="実行権のあるファイルを絶対パスで指定してください。",
    ),
)

# The guide's log style (REQUIREMENTS section 2). BEGIN and END stay as words in the
# Japanese too, so one grep finds them in logs of either language.
_LOG_LINES = (
    MessageDef(
        "190701",
        _INFO,
        '{action}: BEGIN {action_noun} of "{tag}" on server "{server}"',
        '{action}: BEGIN サーバ"{server}"で"{tag}"の{action_noun}を開始します',
    ),
    MessageDef(
        "190702",
        _INFO,
        '{action}: END successful {action_noun} of "{tag}" on server "{server}"',
        '{action}: END サーバ"{server}"で"{tag}"の{action_noun}が成功しました',
    ),
    MessageDef(
        "190703",
        _ERR,
        '{action}: END failed {action_noun} of "{tag}" on server "{server}": {reason}',
        '{action}: END サーバ"{server}"で"{tag}"の{action_noun}が失敗しました: {reason}',
    ),
    MessageDef(
        "190704",
        _INFO,
        'Creating Resource Instance {tag} with id {id} on machine "{server}":',
        'マシン"{server}"で ID {id}のリソース・インスタンス{tag}を作成しています:',
    ),
    MessageDef(
        "190705",
        _INFO,
        'Creating Dependency {parent}-"{child}" on machine "{server}":',
        'マシン"{server}"で従属関係{parent}-"{child}"を作成しています:',
    ),
    MessageDef(
        "190706",
        _INFO,
        "Removing /etc/fstab entry",
        "/etc/fstab エントリを削除しています",
    ),
)

_CLUSTER = (
    MessageDef(
        "191001",
        _ERR,
        "Cluster key file {path} must be a regular file of this user readable by nobody else",
        "クラスタ鍵ファイル {path} は、このユーザが所有し"
        "他の誰も読めない通常ファイルでなければなりません",
        action_en="Run chmod 600 on the key file (and chown it to root).",
        action_ja="鍵ファイルに chmod 600 を実行してください (所有者は root にしてください)。",
    ),
    MessageDef(
        "191002",
        _ERR,
        "Cluster key in {path} is shorter than {minimum} bytes",
        "{path} のクラスタ鍵が {minimum} バイトより短いです",
        action_en="Generate a new cluster key and copy it to every server.",
        action_ja="新しいクラスタ鍵を生成し、すべてのサーバにコピーしてください。",
    ),
    MessageDef(
        "191003",
        _WARN,
        "Dropped a message on comm path {path} from {source}: {reason}",
        "コミュニケーションパス {path} で {source} からのメッセージを破棄しました: {reason}",
        action_en="Check that every server has the same cluster key; look for a foreign sender.",
        action_ja="すべてのサーバのクラスタ鍵が同じか確認し、不明な送信元がないか調べてください。",
    ),
    MessageDef(
        "191004",
        _WARN,
        "Dropped a replayed or stale message on comm path {path} from {source}",
        "コミュニケーションパス {path} で {source} からの再送または古いメッセージを破棄しました",
        action_en="Check the servers' clocks (NTP) and look for a foreign sender.",
        action_ja="サーバの時刻 (NTP) を確認し、不明な送信元がないか調べてください。",
    ),
    MessageDef(
        "191005",
        _WARN,
        "Comm path {path} to server {peer} is DEAD",
        "サーバ {peer} へのコミュニケーションパス {path} が DEAD になりました",
    ),
    MessageDef(
        "191006",
        _INFO,
        "Comm path {path} to server {peer} is ALIVE",
        "サーバ {peer} へのコミュニケーションパス {path} が ALIVE になりました",
    ),
    MessageDef(
        "191007",
        _ERR,
        "Every comm path to server {peer} is dead: server {peer} has failed",
        "サーバ {peer} へのすべてのコミュニケーションパスが DEAD です: "
        "サーバ {peer} は障害と判断されました",
    ),
    MessageDef(
        "191008",
        _ERR,
        "Cluster key file {path} is missing, unreadable or not base64: {reason}",
        "クラスタ鍵ファイル {path} が存在しないか、読めないか、base64 ではありません: {reason}",
    ),
    MessageDef(
        "191009",
        _ERR,
        "Cannot bind the heartbeat socket to {address} port {port}: {reason}",
        "ハートビート用ソケットを {address} のポート {port} にバインドできません: {reason}",
    ),
    MessageDef(
        "191010",
        _ERR,
        "Request {method} from server {peer} failed: {reason}",
        "サーバ {peer} からの要求 {method} が失敗しました: {reason}",
    ),
    MessageDef(
        "191011",
        _ERR,
        "Request {method} from server {peer} exceeded its time limit of {seconds} s",
        "サーバ {peer} からの要求 {method} が制限時間 {seconds} 秒を超えました",
    ),
    MessageDef(
        "191012",
        _ERR,
        "Server {peer} cannot be reached on any comm path: {detail}",
        "サーバ {peer} にどのコミュニケーションパスでも到達できません: {detail}",
        action_en="Check that server {peer} is running and that its comm paths are up.",
        action_ja="サーバ {peer} が稼働していること、およびコミュニケーションパスが"
        "稼働していることを確認してください。",
    ),
    MessageDef(
        "191013",
        _ERR,
        "Dropped a message on comm path {path} from {source}: it speaks cluster protocol "
        "{theirs}, this server speaks {ours}",
        "コミュニケーションパス {path} で {source} からのメッセージを破棄しました: "
        "クラスタプロトコル {theirs} です (このサーバは {ours})",
        action_en="Run compatible Standfast releases on every server of the cluster "
        "(docs/install.md, upgrades).",
        action_ja="クラスタのすべてのサーバで互換性のある Standfast のリリースを"
        "動かしてください (docs/install.md のアップグレード)。",
    ),
)

_POWER = (
    MessageDef(
        "190501",
        _ERR,
        "The halt command {command} failed ({reason}): this server is still running",
        "停止コマンド {command} が失敗しました ({reason}): このサーバはまだ稼働しています",
        action_en="Check SF_HALT_COMMAND, then stop this server by hand.",
        action_ja="SF_HALT_COMMAND を確認し、このサーバを手動で停止してください。",
    ),
    MessageDef(
        "190502",
        _FATAL,
        "Cannot open the watchdog device {device}: {reason}",
        "ウォッチドッグ・デバイス {device} を開けません: {reason}",
        action_en=(
            "Load a watchdog driver (modprobe softdog), check SF_WATCHDOG_DEVICE, or set it"
            " to off; the daemon does not start with a watchdog that does not work."
        ),
        action_ja=(
            "ウォッチドッグ・ドライバをロードする (modprobe softdog) か、SF_WATCHDOG_DEVICE を"
            "確認するか off にしてください。動作しないウォッチドッグでデーモンは起動しません。"
        ),
    ),
    MessageDef(
        "190503",
        _INFO,
        "Watchdog {device} armed: this server resets {timeout} s after its control loop stops",
        "ウォッチドッグ {device} を有効にしました: 制御ループが止まると {timeout} 秒後に"
        "このサーバはリセットされます",
    ),
    MessageDef(
        "190504",
        _INFO,
        "Claimed for the heartbeats and the control loop: {what}",
        "ハートビートと制御ループのために確保しました: {what}",
    ),
    MessageDef(
        "190505",
        _WARN,
        "Could not claim {what} for the heartbeats and the control loop: {reason}",
        "ハートビートと制御ループのために {what} を確保できませんでした: {reason}",
        action_en=(
            "Run the daemon as root (CAP_SYS_NICE, CAP_IPC_LOCK) outside a cgroup without a"
            " real-time budget, or set SF_REALTIME_PRIORITY=0; without it a busy server may"
            " miss heartbeats."
        ),
        action_ja=(
            "デーモンを root (CAP_SYS_NICE, CAP_IPC_LOCK) で、リアルタイム予算のない cgroup の"
            "外で動かすか、SF_REALTIME_PRIORITY=0 にしてください。これがないと、負荷の高い"
            "サーバはハートビートを逃すことがあります。"
        ),
    ),
)

OWN_MESSAGES: tuple[MessageDef, ...] = (
    *_MODEL,
    *_DATABASE,
    *_DAEMON,
    *_DEFAULTS,
    *_NFS,
    *_POWER,
    *_COMMANDS,
    *_LOG_LINES,
    *_CLUSTER,
)
