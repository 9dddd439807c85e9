"""Messages of the etcd arbiter, codes 199001-199099 (docs/cluster.md, "etcd").

Same conventions as :mod:`standfast.messages.own`: a refusal is ERROR, a lost lease or
an unreachable etcd WARNING (quorum decides what follows), progress INFO.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

ETCD_MESSAGES: tuple[MessageDef, ...] = (
    MessageDef(
        "199001",
        _ERR,
        "The etcd arbiter of server {server} failed unexpectedly: {reason}",
        "サーバ{server}のetcdアービターが予期せず失敗しました: {reason}",
        action_en="Report this with the daemon's log; the arbiter retries at its next renewal.",
        action_ja="デーモンのログを添えて報告してください。アービターは次の更新で再試行します。",
    ),
    MessageDef(
        "199002",
        _ERR,
        'Hierarchy "{tag}" is held by server {holder} in etcd: server {server} does not'
        " bring it into service",
        '階層"{tag}"はetcdでサーバ{holder}が保持しています: サーバ{server}はサービス開始しません',
        action_en="Take it out of service on that server first (or wait for its lease to"
        " expire, if it failed).",
        action_ja="先にそのサーバでサービス休止してください (障害時はリースの失効を待ちます)。",
    ),
    MessageDef(
        "199003",
        _ERR,
        'Server {server} could not take hierarchy "{tag}" in etcd: {reason}',
        'サーバ{server}はetcdで階層"{tag}"を取得できませんでした: {reason}',
        action_en="Check that etcd is reachable from this server (standfast cluster check).",
        action_ja="このサーバからetcdに到達できるか確認してください (standfast cluster check)。",
    ),
    MessageDef(
        "199004",
        _WARN,
        "The etcd lease {lease} of server {server} expired",
        "サーバ{server}のetcdリース{lease}が失効しました",
        action_en="etcd was unreachable for longer than the ttl; a new lease is asked for.",
        action_ja="etcdにttl以上到達できませんでした。新しいリースを要求します。",
    ),
    MessageDef(
        "199005",
        _INFO,
        "etcd granted lease {lease} to server {server} (ttl {ttl} s)",
        "etcdがサーバ{server}にリース{lease}を与えました (ttl {ttl}秒)",
    ),
    MessageDef(
        "199006",
        _WARN,
        'Server {server} could not delete its etcd key for "{tag}" ({reason}): it'
        " expires with the lease",
        'サーバ{server}は"{tag}"のetcdキーを削除できませんでした ({reason}): '
        "リースとともに失効します",
    ),
    MessageDef(
        "199007",
        _WARN,
        "The etcd watch of server {server} ended: {reason}",
        "サーバ{server}のetcd監視が終了しました: {reason}",
        action_en="It is started again at the next renewal.",
        action_ja="次の更新で再開します。",
    ),
    MessageDef(
        "199008",
        _INFO,
        "etcd at {endpoint} is reachable from server {server}",
        "サーバ{server}から{endpoint}のetcdに到達できます",
    ),
    MessageDef(
        "199009",
        _WARN,
        "etcd at {endpoint} is unreachable from server {server}: {reason}",
        "サーバ{server}から{endpoint}のetcdに到達できません: {reason}",
        action_en="The next endpoint is tried; without a renewed lease this server"
        " loses quorum before the lease's ttl ends.",
        action_ja="次のエンドポイントを試します。リースを更新できなければ、ttlが切れる前に"
        "クォーラムを失います。",
    ),
    MessageDef(
        "199010",
        _ERR,
        'Hierarchy "{tag}" in service on server {server} is held by server {holder} in'
        " etcd: it is taken out of service here",
        '階層"{tag}"はサーバ{server}でサービス中ですが、etcdではサーバ{holder}が保持して'
        "います: このサーバでサービス休止します",
    ),
    MessageDef(
        "199011",
        _ERR,
        "etcd check failed: {endpoints}",
        "etcdの確認に失敗しました: {endpoints}",
        action_en="Each endpoint must answer and accept this server's client certificate"
        " with write access under the prefix.",
        action_ja="各エンドポイントが応答し、このサーバのクライアント証明書でプレフィックス配下に"
        "書き込めることが必要です。",
    ),
)
