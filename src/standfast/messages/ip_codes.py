"""Messages of the ``ip`` kit (floating IP addresses), codes 190801-190899.

Same conventions as :mod:`standfast.messages.own`: a refusal or failure is ERROR,
something worked around or skipped is WARNING, progress is INFO.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

IP_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "190801",
        _ERR,
        'Address "{address}" is invalid: {reason}',
        'アドレス"{address}"は無効です: {reason}',
        action_en="Give an address with its prefix length, such as 192.168.1.100/24 "
        "or fd00::100/64.",
        action_ja="192.168.1.100/24 や fd00::100/64 のように、プレフィックス長を付けて"
        "アドレスを指定してください。",
    ),
    MessageDef(
        "190802",
        _ERR,
        "Interface {interface} does not exist on server {server}",
        "インタフェース{interface}はサーバ{server}に存在しません",
        action_en="Give the name of a network interface of this server (see ip link).",
        action_ja="このサーバのネットワークインタフェース名を指定してください"
        "(ip link で確認できます)。",
    ),
    MessageDef(
        "190803",
        _ERR,
        'Interface name "{interface}" is invalid: {reason}',
        'インタフェース名"{interface}"は無効です: {reason}',
    ),
    MessageDef(
        "190804",
        _ERR,
        "Address {address} is already configured on interface {other} of server {server}",
        "アドレス{address}はすでにサーバ{server}のインタフェース{other}に設定されています",
        action_en="Remove the address from that interface, or protect it on that interface.",
        action_ja="そのインタフェースからアドレスを削除するか、そのインタフェースで保護してください。",
    ),
    MessageDef(
        "190805",
        _ERR,
        "Address {address} already answers on the network through interface {interface} "
        "({method}): another host is using it; the address was not added on server {server}",
        "アドレス{address}はすでにインタフェース{interface}経由でネットワーク上に応答があります"
        "({method}): 別のホストが使用しているため、サーバ{server}にアドレスを追加しませんでした",
        action_en="Find the host that holds the address and remove it there before "
        "bringing the resource in service.",
        action_ja="アドレスを保持しているホストを特定して、そのホストからアドレスを削除してから"
        "リソースをサービス中にしてください。",
    ),
    MessageDef(
        "190806",
        _ERR,
        "Command {command} for {tag} exited with status {status}: {output}",
        "{tag}のコマンド{command}が終了ステータス{status}で終了しました: {output}",
    ),
    MessageDef(
        "190807",
        _ERR,
        "Command {command} for {tag} exceeded its time limit of {seconds} s and was killed",
        "{tag}のコマンド{command}が制限時間{seconds}秒を超えたため強制終了しました",
    ),
    MessageDef(
        "190808",
        _ERR,
        "Address {address} is not on interface {interface} of server {server}",
        "アドレス{address}はサーバ{server}のインタフェース{interface}に設定されていません",
    ),
    MessageDef(
        "190809",
        _ERR,
        "Interface {interface} of server {server} is not up (state {state})",
        "サーバ{server}のインタフェース{interface}はアップしていません(状態: {state})",
        action_en="Check the cable, the switch port and ip link set {interface} up.",
        action_ja="ケーブル、スイッチのポート、および ip link set {interface} up を"
        "確認してください。",
    ),
    MessageDef(
        "190810",
        _WARN,
        "arping from iputils is not installed: no gratuitous ARP sent for {address} "
        "on interface {interface}",
        "iputils の arping がインストールされていないため、インタフェース{interface}で"
        "{address}の Gratuitous ARP を送信しませんでした",
        action_en="Install iputils-arping so that switches and peers learn the move at once.",
        action_ja="スイッチや他のホストがすぐに移動を認識できるように、"
        "iputils-arping をインストールしてください。",
    ),
    MessageDef(
        "190811",
        _ERR,
        "Cannot check whether address {address} is in use on the network: neither arping "
        "from iputils nor ping is installed",
        "アドレス{address}がネットワーク上で使用中かどうかを確認できません: "
        "iputils の arping も ping もインストールされていません",
        action_en="Install iputils-arping and iputils-ping, or set conflict_check to false.",
        action_ja="iputils-arping と iputils-ping をインストールするか、"
        "conflict_check を false に設定してください。",
    ),
    MessageDef(
        "190812",
        _WARN,
        "Announcing address {address} on interface {interface} failed: {reason}",
        "インタフェース{interface}でのアドレス{address}の通知に失敗しました: {reason}",
    ),
    MessageDef(
        "190813",
        _INFO,
        "Address {address} added on interface {interface} of server {server}",
        "サーバ{server}のインタフェース{interface}にアドレス{address}を追加しました",
    ),
    MessageDef(
        "190814",
        _INFO,
        "Address {address} removed from interface {interface} of server {server}",
        "サーバ{server}のインタフェース{interface}からアドレス{address}を削除しました",
    ),
    MessageDef(
        "190815",
        _ERR,
        "Cannot read the addresses of interface {interface}: {reason}",
        "インタフェース{interface}のアドレスを読み取れません: {reason}",
    ),
    MessageDef(
        "190816",
        _ERR,
        "Resource id {id} does not match address {address}: the id of an ip resource is "
        "its address without the prefix",
        "リソース ID {id} がアドレス{address}と一致しません: ip リソースの ID は"
        "プレフィックスを除いたアドレスです",
    ),
)
