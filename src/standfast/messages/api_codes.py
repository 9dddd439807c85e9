"""Messages of the remote API: HTTPS, login, sessions, roles, relay (194001-194099).

194001-194019 authentication and sessions, 194020-194039 roles and requests,
194040-194059 relaying a request to another server's API, 194060-194079 the HTTPS
listener and its certificate.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

API_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "194001",
        _ERR,
        "Login failed for user {user}: wrong user name or password",
        "ユーザ{user}のログインに失敗しました: ユーザ名またはパスワードが正しくありません",
        action_en="Log in with a system account of this server.",
        action_ja="このサーバのシステム・アカウントでログインしてください。",
    ),
    MessageDef(
        "194002",
        _ERR,
        "The session of user {user} has expired",
        "ユーザ{user}のセッションの有効期限が切れました",
        action_en="Log in again.",
        action_ja="再度ログインしてください。",
    ),
    MessageDef(
        "194003",
        _ERR,
        "Authentication required: log in first",
        "認証が必要です: 先にログインしてください",
    ),
    MessageDef(
        "194004",
        _ERR,
        "The session token is not valid",
        "セッション・トークンが無効です",
        action_en="Log in again.",
        action_ja="再度ログインしてください。",
    ),
    MessageDef(
        "194005",
        _ERR,
        "User {user} is not a member of any Standfast group ({groups})",
        "ユーザ{user}はどの Standfast グループ({groups})のメンバでもありません",
        action_en="Add the user to one of these groups on this server.",
        action_ja="このサーバで、ユーザをこれらのグループのいずれかに追加してください。",
    ),
    MessageDef(
        "194006",
        _ERR,
        "The authentication service did not answer within {seconds} s",
        "認証サービスが{seconds}秒以内に応答しませんでした",
    ),
    MessageDef(
        "194007",
        _ERR,
        "User name and password are required",
        "ユーザ名とパスワードを指定してください",
    ),
    MessageDef(
        "194008",
        _INFO,
        "User {user} logged in with role {role}",
        "ユーザ{user}がロール{role}でログインしました",
    ),
    MessageDef(
        "194009",
        _INFO,
        "User {user} logged out",
        "ユーザ{user}がログアウトしました",
    ),
    MessageDef(
        "194020",
        _ERR,
        "Permission denied: user {user} with role {role} may not {operation}",
        "権限がありません: ロール{role}のユーザ{user}には{operation}の権限がありません",
        action_en="Ask an administrator, or log in with an account of a role that may do this.",
        action_ja="管理者に依頼するか、この操作を許可されたロールのアカウントでログインしてください。",
    ),
    MessageDef(
        "194021",
        _ERR,
        "Request refused: the X-Standfast header is missing (a cross-site request?)",
        "リクエストを拒否しました: X-Standfast ヘッダがありません"
        "(クロスサイト・リクエストの可能性)",
    ),
    MessageDef(
        "194040",
        _ERR,
        "Server {server} is not a member of this cluster",
        "サーバ{server}はこのクラスタのメンバではありません",
    ),
    MessageDef(
        "194041",
        _ERR,
        "Cannot reach the API of server {server}: {reason}",
        "サーバ{server}の API に接続できません: {reason}",
        action_en="Check that the server is up and that its daemon serves the remote API.",
        action_ja="サーバが起動していて、デーモンがリモート API を"
        "提供していることを確認してください。",
    ),
    MessageDef(
        "194042",
        _ERR,
        "A request relayed from server {peer} was refused: {reason}",
        "サーバ{peer}から中継されたリクエストを拒否しました: {reason}",
    ),
    MessageDef(
        "194043",
        _ERR,
        "Server {server} presented an HTTPS certificate other than the one it announced "
        "over the cluster channel: {reason}",
        "サーバ{server}が、クラスタ通信路で通知した証明書とは異なる HTTPS 証明書を"
        "提示しました: {reason}",
        action_en="If the server's certificate was replaced, its daemon announces the new "
        "one on restart; otherwise something on the network answers in its place.",
        action_ja="サーバの証明書を入れ替えた場合は、デーモンの再起動で新しい証明書が通知されます。"
        "そうでない場合は、ネットワーク上の別の機器がそのサーバになりすましています。",
    ),
    MessageDef(
        "194060",
        _ERR,
        "Cannot prepare the HTTPS certificate {path}: {reason}",
        "HTTPS 証明書{path}を準備できません: {reason}",
        action_en="Supply a certificate and key, or check that openssl is installed.",
        action_ja="証明書と鍵を指定するか、openssl が"
        "インストールされていることを確認してください。",
    ),
    MessageDef(
        "194061",
        _INFO,
        "Remote API and web GUI listening on https://{host}:{port}/",
        "リモート API と Web GUI を https://{host}:{port}/ で提供しています",
    ),
    MessageDef(
        "194062",
        _WARN,
        'Invalid remote API setting {name}="{value}": {reason}',
        'リモート API の設定{name}="{value}"が不正です: {reason}',
    ),
    MessageDef(
        "194063",
        _ERR,
        "The remote API cannot listen on {host}:{port} (address in use or not here)",
        "リモート API が {host}:{port} で待ち受けできません"
        "(使用中またはこのサーバのアドレスではありません)",
    ),
)

API_FIELDS: dict[str, frozenset[str]] = {
    "194063": frozenset({"host", "port"}),
    "194001": frozenset({"user"}),
    "194002": frozenset({"user"}),
    "194003": frozenset(),
    "194004": frozenset(),
    "194005": frozenset({"user", "groups"}),
    "194006": frozenset({"seconds"}),
    "194007": frozenset(),
    "194008": frozenset({"user", "role"}),
    "194009": frozenset({"user"}),
    "194020": frozenset({"user", "role", "operation"}),
    "194021": frozenset(),
    "194040": frozenset({"server"}),
    "194041": frozenset({"server", "reason"}),
    "194042": frozenset({"peer", "reason"}),
    "194043": frozenset({"server", "reason"}),
    "194060": frozenset({"path", "reason"}),
    "194061": frozenset({"host", "port"}),
    "194062": frozenset({"name", "value", "reason"}),
}
