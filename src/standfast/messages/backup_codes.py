"""Messages of ``standfast config backup`` and ``config restore`` (the backup archive),
codes 198101-198199.

Same conventions as :mod:`standfast.messages.own`: a refusal is ERROR and changes
nothing; something the administrator must do or protect is WARNING; progress is INFO.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

BACKUP_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "198101",
        _ERR,
        "{path} is not a usable Standfast backup: {reason}; nothing was restored",
        "{path} は使用できる Standfast のバックアップではありません: {reason}。"
        "何も復元していません",
        action_en="List it with tar tzf {path}; take a new backup with standfast config backup.",
        action_ja="tar tzf {path} で中身を確認し、standfast config backup で新しいバックアップを"
        "取ってください。",
    ),
    MessageDef(
        "198102",
        _ERR,
        "{path} is a backup of format {format} (Standfast {version}); this Standfast reads"
        " formats up to {supported}: nothing was restored",
        "{path} はフォーマット {format} のバックアップです (Standfast {version})。この"
        " Standfast が読めるのはフォーマット {supported} までです: 何も復元していません",
        action_en="Restore it with Standfast {version} or later.",
        action_ja="Standfast {version} 以降で復元してください。",
    ),
    MessageDef(
        "198103",
        _ERR,
        "{path} is a backup of cluster {backup} (key {backup_key}), but this server belongs"
        " to cluster {local} (key {local_key}): nothing was restored",
        "{path} はクラスタ {backup} (鍵 {backup_key}) のバックアップですが、このサーバは"
        "クラスタ {local} (鍵 {local_key}) に属しています: 何も復元していません",
        action_en="Restore a backup taken in this cluster (after a key rotation, take a new one).",
        action_ja="このクラスタで取ったバックアップを復元してください (鍵を変更した後は"
        "新しく取り直してください)。",
    ),
    MessageDef(
        "198104",
        _ERR,
        "This server already has a different cluster definition ({path}): the backup's is"
        " not written over it; nothing was restored",
        "このサーバには別のクラスタ定義 ({path}) が既にあります: バックアップの定義で"
        "上書きしません。何も復元していません",
        action_en="Move {path} away first if this server is to be rebuilt from the backup.",
        action_ja="このサーバをバックアップから再構築するなら、先に {path} を移動してください。",
    ),
    MessageDef(
        "198105",
        _ERR,
        "Server {server} is not a member of cluster {cluster} in the backup (members:"
        " {members}); nothing was restored",
        "サーバ {server} はバックアップのクラスタ {cluster} のメンバーではありません"
        " (メンバー: {members})。何も復元していません",
        action_en="Restore on the server the backup was taken for, or name it with"
        " STANDFAST_SERVER.",
        action_ja="バックアップ元のサーバで復元するか、STANDFAST_SERVER でサーバ名を"
        "指定してください。",
    ),
    MessageDef(
        "198106",
        _WARN,
        "The backup holds no cluster key: copy the key file of cluster {cluster} from one of"
        " its servers to {path} (mode 0600) before starting the daemon",
        "バックアップにはクラスタ鍵がありません: デーモンを起動する前に、クラスタ"
        " {cluster} のサーバから鍵ファイルを {path} にコピーしてください (モード 0600)",
    ),
    MessageDef(
        "198107",
        _WARN,
        "The defaults file {path} differed from the backup's: replaced, the previous one is"
        " kept as {saved}",
        "デフォルト・ファイル {path} はバックアップのものと異なっていました: 置き換え、"
        "以前のものを {saved} として残しました",
    ),
    MessageDef(
        "198108",
        _INFO,
        "Server files of cluster {cluster} restored for server {server} in {dir}: start the"
        " daemon, it rejoins and fetches the configuration from the other servers",
        "クラスタ {cluster} のサーバ {server} のサーバ・ファイルを {dir} に復元しました:"
        " デーモンを起動すると、クラスタに再参加し他のサーバから構成を取得します",
    ),
    MessageDef(
        "198109",
        _ERR,
        "This server is not in cluster {cluster} yet: restore its server files first"
        " (standfast config restore {path} --server-files)",
        "このサーバはまだクラスタ {cluster} に属していません: 先にサーバ・ファイルを"
        "復元してください (standfast config restore {path} --server-files)",
    ),
    MessageDef(
        "198110",
        _ERR,
        "--include-key: there is no usable cluster key at {path} ({reason})",
        "--include-key: {path} に使用できるクラスタ鍵がありません ({reason})",
    ),
    MessageDef(
        "198111",
        _WARN,
        "{path} holds the cluster key (fingerprint {fingerprint}): whoever reads it can join"
        " and impersonate the servers of cluster {cluster}",
        "{path} にはクラスタ鍵 (フィンガープリント {fingerprint}) が含まれています: これを"
        "読める者はクラスタ {cluster} に参加し、そのサーバになりすませます",
        action_en="Keep it as the key itself: mode 0600, never on shared storage, encrypted"
        " where it is stored.",
        action_ja="鍵そのものと同様に扱ってください: モード 0600、共有ストレージに置かず、"
        "保管先では暗号化してください。",
    ),
    MessageDef(
        "198112",
        _ERR,
        "{path} holds no cluster definition ({reason}): there are no server files to restore",
        "{path} にはクラスタ定義がありません ({reason}): 復元するサーバ・ファイルはありません",
    ),
    MessageDef(
        "198113",
        _INFO,
        "Backup of server {server} (cluster {cluster}, configuration version {version},"
        " {events} events, files: {files}) written to {path}",
        "サーバ {server} のバックアップ (クラスタ {cluster}、構成バージョン {version}、"
        "イベント {events} 件、ファイル: {files}) を {path} に書き込みました",
    ),
    MessageDef(
        "198114",
        _ERR,
        "Cannot write {path}: {reason}",
        "{path} に書き込めません: {reason}",
        action_en="Check the directory exists, has space and is writable by this user.",
        action_ja="ディレクトリが存在し、空きがあり、このユーザが書き込めることを確認して"
        "ください。",
    ),
    MessageDef(
        "198115",
        _INFO,
        "{path} is a backup of server {backup}, not of this server {server}: its"
        " configuration is restored, its events are not added to this server's history",
        "{path} はサーバ {backup} のバックアップで、このサーバ {server} のものではありません:"
        " 構成は復元し、イベントはこのサーバの履歴に追加しません",
    ),
)
