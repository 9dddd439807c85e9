"""Messages of the ``systemd`` kit (systemd units as resources), codes 195101-195199.

Same conventions as :mod:`standfast.messages.own`: a refusal or failure is ERROR,
something changed on the administrator's behalf is WARNING.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING

SYSTEMD_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "195101",
        _ERR,
        "systemd is not the service manager of server {server}: the systemd kit cannot"
        " manage units there",
        "サーバ {server} のサービス・マネージャは systemd ではありません: systemd キットは"
        "ユニットを管理できません",
        action_en="Use the app kit with the service's own commands on this server.",
        action_ja="このサーバでは app キットとサービス自身のコマンドを使ってください。",
    ),
    MessageDef(
        "195102",
        _ERR,
        '"{unit}" is not a systemd unit name (NAME.service, .socket, .target, .mount,'
        " .timer or .path)",
        '"{unit}" は systemd のユニット名ではありません (NAME.service、.socket、.target、'
        ".mount、.timer または .path)",
    ),
    MessageDef(
        "195103",
        _ERR,
        'Unit "{unit}" is not known to systemd on server {server} (LoadState {state})',
        'ユニット "{unit}" はサーバ {server} の systemd にありません (LoadState {state})',
        action_en="Install the unit file on that server (and run systemctl daemon-reload).",
        action_ja="そのサーバにユニット・ファイルを置いてください (systemctl daemon-reload も)。",
    ),
    MessageDef(
        "195104",
        _ERR,
        "systemctl {verb} {unit} failed on server {server}: {reason}",
        "サーバ {server} で systemctl {verb} {unit} に失敗しました: {reason}",
        action_en="journalctl -u {unit} on that server tells why.",
        action_ja="そのサーバで journalctl -u {unit} を確認してください。",
    ),
    MessageDef(
        "195105",
        _ERR,
        'Unit "{unit}" on server {server} is {state} (result {result})',
        'サーバ {server} のユニット "{unit}" は {state} です (結果 {result})',
        action_en="journalctl -u {unit} on that server tells why.",
        action_ja="そのサーバで journalctl -u {unit} を確認してください。",
    ),
    MessageDef(
        "195106",
        _WARN,
        'Unit "{unit}" was enabled at boot on server {server}: disabled, the cluster'
        " starts it where it belongs",
        'ユニット "{unit}" はサーバ {server} で起動時に有効でした: 無効にしました。'
        "クラスタが適切なサーバで起動します",
        action_en="Do not enable it again while the cluster owns it (systemctl enable would"
        " start it at boot on every server).",
        action_ja="クラスタが管理している間は再び有効にしないでください (起動時に全サーバで"
        "起動されます)。",
    ),
    MessageDef(
        "195107",
        _WARN,
        'Unit "{unit}" is enabled at boot on server {server} and could not be disabled: {reason}',
        'ユニット "{unit}" はサーバ {server} で起動時に有効で、無効にできませんでした: {reason}',
        action_en="Disable it by hand (systemctl disable {unit}): at boot it would start"
        " beside the cluster's copy.",
        action_ja="手動で無効にしてください (systemctl disable {unit})。起動時にクラスタの"
        "コピーと並んで起動してしまいます。",
    ),
    MessageDef(
        "195108",
        _ERR,
        'Unit "{unit}" is enabled at boot on server {server}: it would start there beside'
        " the cluster's copy",
        'ユニット "{unit}" はサーバ {server} で起動時に有効です: クラスタのコピーと並んで'
        "起動してしまいます",
        action_en="On that server run systemctl disable {unit}, then extend again.",
        action_ja="そのサーバで systemctl disable {unit} を実行してから、再度拡張してください。",
    ),
)
