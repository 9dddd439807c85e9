"""Messages of the remote API: HTTPS, login, sessions, roles, relay (194001-194099).

194001-194019 authentication and sessions, 194020-194039 roles and requests,
194040-194059 relaying a request to another server's API, 194060-194079 the HTTPS
listener and its certificate, 194080-194089 the monitoring endpoints (metrics, health),
194090-194099 the API's limits (connections, request sizes and times, login
throttling, descriptors, log flood control).
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
        "194010",
        _ERR,
        "Logins cannot be checked on this server: PAM is unavailable ({reason})",
        "このサーバではログインを確認できません: PAM を利用できません ({reason})",
        action_en="Install libpam (Debian: libpam0g) and make sure the dynamic loader"
        " finds it (ldconfig); the local CLI still works as root.",
        action_ja="libpam (Debian: libpam0g) をインストールし、動的ローダが見つけられる"
        "ことを確認してください (ldconfig)。ローカルの CLI は root で引き続き使えます。",
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
        "194022",
        _ERR,
        "No such request: {method} {path}",
        "そのようなリクエストはありません: {method} {path}",
        action_en="Check the method and the path (docs/gui.md lists the API's requests).",
        action_ja="メソッドとパスを確認してください (API の一覧は docs/gui.md にあります)。",
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
    MessageDef(
        "194090",
        _ERR,
        "The request body is larger than {limit} bytes",
        "リクエスト本体が{limit}バイトを超えています",
        action_en="Send a smaller request; the limit is STANDFAST_API_MAX_BODY.",
        action_ja="より小さいリクエストを送ってください。上限は STANDFAST_API_MAX_BODY です。",
    ),
    MessageDef(
        "194091",
        _ERR,
        "The request did not arrive completely within {seconds} s",
        "リクエストが{seconds}秒以内に届きませんでした",
        action_en="Check the network; the limit is STANDFAST_API_BODY_TIMEOUT.",
        action_ja="ネットワークを確認してください。上限は STANDFAST_API_BODY_TIMEOUT です。",
    ),
    MessageDef(
        "194092",
        _ERR,
        "The request body is nested more than {limit} levels deep",
        "リクエスト本体の入れ子が{limit}段を超えています",
    ),
    MessageDef(
        "194093",
        _ERR,
        "The request body holds a number of more than {limit} digits",
        "リクエスト本体に{limit}桁を超える数値があります",
    ),
    MessageDef(
        "194094",
        _ERR,
        "Too many failed logins: try again in {seconds} s",
        "ログインの失敗が多すぎます: {seconds}秒後に再試行してください",
        action_en="Wait, then log in with the right password; an administrator can see "
        "the failures in the daemon's log (194001).",
        action_ja="しばらく待ってから正しいパスワードでログインしてください。"
        "失敗はデーモンのログ(194001)で確認できます。",
    ),
    MessageDef(
        "194095",
        _ERR,
        "A login from this address is already being checked: wait for its answer",
        "このアドレスからのログインを確認中です: その応答を待ってください",
    ),
    MessageDef(
        "194096",
        _WARN,
        "Refused {count} connection(s) to the {listener}, the last from {source}: {reason}",
        "{listener}への接続を{count}件拒否しました(最後は{source}から): {reason}",
        action_en="A client opens too many connections at once; the limits are "
        "STANDFAST_API_MAX_CONNECTIONS and STANDFAST_API_MAX_PER_SOURCE.",
        action_ja="クライアントが同時に多くの接続を開いています。上限は "
        "STANDFAST_API_MAX_CONNECTIONS と STANDFAST_API_MAX_PER_SOURCE です。",
    ),
    MessageDef(
        "194097",
        _WARN,
        "{count} more messages like this were left out of the log in {seconds} s: {message}",
        "同様のメッセージ{count}件を{seconds}秒間ログから省略しました: {message}",
    ),
    MessageDef(
        "194098",
        _INFO,
        "Open-file limit {limit}: at most {remote} connections to the remote API, {local} "
        "to the local socket and {peer} to the peer channel",
        "オープンファイル上限{limit}: 接続の上限はリモート API {remote}、ローカル・ソケット"
        " {local}、ピア通信路 {peer}です",
    ),
    MessageDef(
        "194099",
        _WARN,
        "Cannot raise the open-file limit from {soft} to {wanted}: {reason}",
        "オープンファイル上限を{soft}から{wanted}に上げられません: {reason}",
        action_en="Set LimitNOFILE in the daemon's systemd unit.",
        action_ja="デーモンの systemd ユニットで LimitNOFILE を設定してください。",
    ),
    MessageDef(
        "194080",
        _INFO,
        "Metrics and health endpoints listening on http://{host}:{port}/ (no login)",
        "メトリクスとヘルスチェックのエンドポイントを http://{host}:{port}/ で"
        "提供しています(ログイン不要)",
    ),
    MessageDef(
        "194081",
        _ERR,
        "No server of the cluster has a resource {tag}",
        "クラスタのどのサーバにもリソース{tag}がありません",
        action_en="Ask for the tag of a hierarchy's root (standfast status lists them).",
        action_ja="階層のルートのタグを指定してください(standfast status で一覧できます)。",
    ),
    MessageDef(
        "194082",
        _ERR,
        "The metrics endpoint cannot listen on {host}:{port} (address in use or not here)",
        "メトリクスのエンドポイントが {host}:{port} で待ち受けできません"
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
    "194010": frozenset({"reason"}),
    "194020": frozenset({"user", "role", "operation"}),
    "194021": frozenset(),
    "194022": frozenset({"method", "path"}),
    "194040": frozenset({"server"}),
    "194041": frozenset({"server", "reason"}),
    "194042": frozenset({"peer", "reason"}),
    "194043": frozenset({"server", "reason"}),
    "194060": frozenset({"path", "reason"}),
    "194061": frozenset({"host", "port"}),
    "194062": frozenset({"name", "value", "reason"}),
    "194090": frozenset({"limit"}),
    "194091": frozenset({"seconds"}),
    "194092": frozenset({"limit"}),
    "194093": frozenset({"limit"}),
    "194094": frozenset({"seconds"}),
    "194095": frozenset(),
    "194096": frozenset({"count", "listener", "source", "reason"}),
    "194097": frozenset({"count", "seconds", "message"}),
    "194098": frozenset({"limit", "remote", "local", "peer"}),
    "194099": frozenset({"soft", "wanted", "reason"}),
    "194080": frozenset({"host", "port"}),
    "194081": frozenset({"tag"}),
    "194082": frozenset({"host", "port"}),
}
