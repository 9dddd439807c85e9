"""Messages of cluster key rotation, codes 191020-191029 (``standfast cluster rekey``,
docs/cluster.md "Changing the cluster key").

Same conventions as :mod:`standfast.messages.own`: a refusal is ERROR, progress INFO.
A message never shows a key, only its fingerprint.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

KEY_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "191020",
        _ERR,
        "The cluster key cannot be changed now: server(s) {servers} not heard",
        "現在クラスタ鍵は変更できません: サーバ {servers} と通信できません",
        action_en="Every server of the cluster must be up and heard; bring it back (or remove"
        " it from the cluster definition) and run the command again.",
        action_ja="クラスタの全サーバが起動し通信できる必要があります。サーバを復旧する"
        "(またはクラスタ定義から外す)後、もう一度実行してください。",
    ),
    MessageDef(
        "191021",
        _ERR,
        'Cluster key rotation stopped at step "{step}" on server {server}: {reason}',
        'クラスタ鍵の変更はサーバ {server} の手順 "{step}" で止まりました: {reason}',
        action_en="Every server still accepts every key it had, so the cluster keeps"
        " talking; once that server answers, run standfast cluster rekey again (after a"
        " failure in step add) or standfast cluster rekey --finish (after a later step).",
        action_ja="各サーバはそれまでの鍵をすべて受け付けるため、クラスタの通信は続きます。"
        "そのサーバが応答したら、手順 add での失敗なら standfast cluster rekey を、"
        "それ以降なら standfast cluster rekey --finish を実行してください。",
    ),
    MessageDef(
        "191022",
        _INFO,
        "Cluster keys of server {server} are now {fingerprints} (the first seals)",
        "サーバ {server} のクラスタ鍵は {fingerprints} になりました (先頭で暗号化します)",
    ),
    MessageDef(
        "191023",
        _INFO,
        "The cluster key changed on every server: {fingerprint}",
        "全サーバでクラスタ鍵が変更されました: {fingerprint}",
        action_en="A TCP witness keeps the old key until you give it the new one"
        " (docs/cluster.md).",
        action_ja="TCP ウィットネスには新しい鍵を別途設定してください (docs/cluster.md)。",
    ),
    MessageDef(
        "191024",
        _ERR,
        "Server {server} already accepts {keys} keys: a rotation is under way",
        "サーバ {server} は既に {keys} 個の鍵を受け付けています: 鍵の変更が進行中です",
        action_en="Let the rotation under way end, or complete a stopped one with"
        " standfast cluster rekey --finish.",
        action_ja="進行中の変更の終了を待つか、止まった変更を standfast cluster rekey"
        " --finish で完了してください。",
    ),
    MessageDef(
        "191025",
        _ERR,
        "Cluster key file {path} could not be read again: {reason}; the keys in use are kept",
        "クラスタ鍵ファイル {path} を読み直せませんでした: {reason}。使用中の鍵を維持します",
        action_en="Correct the file (one base64 key per line, mode 0600) and send SIGHUP again.",
        action_ja="ファイルを修正し (1 行に 1 つの base64 鍵、モード 0600)、再度 SIGHUP を"
        "送ってください。",
    ),
)
