"""Messages the reference guide defines (chapter 6), with its codes and wording.

The English is the guide's; the Japanese is the guide's translation. Obvious
transcription slips in the guide are corrected ("getld" is getId, "/etc/mstab" is
/etc/mtab) and "<tag name>"-style slots become ``{tag}`` placeholders. A code the
guide lists under several operations (create and extend) appears here once.

Severity: failures are ERROR. The back-out announcements (000021, 000027, 000028)
are WARNING rather than INFO: each one means a creation failed and is being undone,
so an operator scanning for trouble must see it, while the failure itself is reported
by its own ERROR. 000001 is plain progress (INFO). 000029 and 107009 report a
setting that was tolerated (the action continues), so they are WARNING.
"""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR
_WARN = Severity.WARNING
_INFO = Severity.INFO

_COMMON = (
    MessageDef("000002", _ERR, "Usage error", "使用法のエラー"),
    MessageDef("000010", _ERR, "Error getting resource information", "リソース情報取得時のエラー"),
    MessageDef(
        "000011",
        _ERR,
        "Both Tag and ID name not specified",
        "タグ名および ID 名が指定されていません",
    ),
    MessageDef(
        "000019",
        _ERR,
        "Resource not found on local server",
        "ローカル・サーバにリソースが見つかりません",
    ),
    MessageDef(
        "000022",
        _ERR,
        "END failed hierarchy {tag} in service on server {server}",
        "サーバ{server}でサービス中の階層{tag}のENDが失敗しました",
    ),
    MessageDef(
        "000026",
        _ERR,
        "END failed {action} for {tag} on server {server} due to {signal} signal",
        "{signal}シグナルのためにサーバ{server}の{tag} {action}のENDが失敗しました",
    ),
)

_CREATE = (
    MessageDef("000012", _ERR, "Usage error", "使用法のエラー"),
    MessageDef("000013", _ERR, "Error getting resource information", "リソース情報取得時のエラー"),
    MessageDef(
        "000014",
        _ERR,
        "Resource with either matching tag {tag} or ID exists",
        "タグ{tag}または ID が一致するリソースが存在します",
    ),
    MessageDef(
        "000015",
        _ERR,
        "ins_create failed on server {server}",
        "サーバ{server}で ins_create に失敗しました",
    ),
    MessageDef(
        "000018",
        _ERR,
        "Error creating resource {tag} on server {server}",
        "サーバ{server}でリソース{tag}の作成エラー",
    ),
    MessageDef(
        "000021",
        _WARN,
        "Removing resource instance {tag} from server {server} due to an error during creation",
        "作成時のエラーにより、リソース・インスタンス{tag}をサーバ{server}から削除しています",
    ),
    MessageDef(
        "000023",
        _ERR,
        "Error bringing resource {tag} in service on server {server}",
        "サーバ{server}でリソース{tag}をサービス中にするときにエラー",
    ),
    MessageDef(
        "000024",
        _ERR,
        "Failed resource creation of resource {tag} on server {server}",
        "サーバ{server}でリソース{tag}の作成に失敗しました",
    ),
    MessageDef(
        "000027",
        _WARN,
        "Removing file system dependency from {parent} to {child} on server {server}"
        " due to an error during creation",
        "作成時のエラーにより、サーバ{server}の{parent}から{child}への"
        "ファイル・システム従属関係を削除しています",
    ),
    MessageDef(
        "000028",
        _WARN,
        "Removing file system hierarchy {filesys_tag} created by {parent} on server {server}"
        " due to an error during creation",
        "作成時のエラーにより、サーバ{server}の{parent}によって作成された"
        "ファイル・システム階層{filesys_tag}を削除しています",
    ),
    MessageDef(
        "000029",
        _WARN,
        "Switchback type mismatch between parent {parent} and child {child} on server {server}",
        "サーバ{server}の親{parent}と子{child}のスイッチバック・タイプが一致していません",
        action_en=(
            "A switchback type mismatch can cause unexpected behaviour. Remove the mismatch"
            " by changing the switchback type of the resources by hand so that they match."
        ),
        action_ja=(
            "スイッチバック・タイプの不一致は予想外の動作を引き起こすことがあります。"
            "スイッチバック・タイプを手動で変更することによって、この不一致をなくすことができます。"
        ),
    ),
    # The guide prints "create: ..." or "extend: ..." in English and 作成時/拡張時 in
    # Japanese; one template with the operation's command name serves both languages.
    MessageDef(
        "000030",
        _ERR,
        "{phase}: tag name not specified",
        "{phase}: タグ名が指定されていません",
    ),
)

_EXTEND = (
    MessageDef(
        "000003",
        _ERR,
        "Template resource {tag} on server {server} does not exist",
        "サーバ{server}にテンプレート・リソース{tag}が存在しません",
    ),
    MessageDef(
        "000004",
        _ERR,
        "Template resource {tag} cannot be extended to server {server}"
        " because it already exists there",
        "テンプレート・リソース{tag}がサーバ{server}にすでに存在するため拡張できません",
    ),
    MessageDef(
        "000005",
        _ERR,
        "Cannot access canextend script on server {server}",
        "サーバ{server}の canextend スクリプトにアクセスできません",
    ),
    MessageDef(
        "000006",
        _ERR,
        "Cannot access extend script {path} on server {server}",
        "サーバ{server}の extend スクリプト{path}にアクセスできません",
    ),
    MessageDef(
        "000007",
        _ERR,
        "Cannot access depstoextend script {path} on server {server}",
        "サーバ{server}の depstoextend スクリプト{path}にアクセスできません",
    ),
    MessageDef(
        "000008",
        _ERR,
        "Cannot extend resource {tag} to server {server}",
        "サーバ{server}にリソース{tag}を拡張できません",
    ),
    MessageDef(
        "000009",
        _ERR,
        "Either {templatesys} or {templatetag} argument missing",
        "{templatesys}または{templatetag}引数が指定されていません",
    ),
    MessageDef(
        "000025",
        _ERR,
        'END failed resource extension of {tag} on server {server} due to a "{signal}" signal'
        " - backing out changes made to server",
        '"{signal}"シグナルのためにサーバ{server}の{tag}リソース拡張のENDが失敗しました'
        " - サーバに加えた変更を元に戻しています",
    ),
)

_RECOVERY = (
    MessageDef(
        "000001",
        _INFO,
        "Calling sendevent for resource {tag} on server {server}",
        "サーバ{server}でリソース{tag}の sendevent を呼び出しています",
    ),
)

_NAS = (
    MessageDef(
        "107001",
        _ERR,
        "Creation of NAS device with tag id {tag_id} on server {server} failed.",
        "サーバ{server}でタグ ID {tag_id}を使用して NAS デバイスを作成しようとしましたが、"
        "失敗しました。",
    ),
    MessageDef(
        "107002",
        _ERR,
        "Error getting list of IP addresses for NFS server device {nfs_server} on server {server}.",
        "サーバ{server}で NFS サーバ・デバイス{nfs_server}の IP アドレスのリストを取得中に"
        "エラーが発生しました。",
    ),
    MessageDef(
        "107003",
        _ERR,
        "Error attempting to find active address to NFS server {nfs_server} on server {server}.",
        "サーバ{server}で NFS サーバ{nfs_server}のアクティブ・アドレスを検出試行中に"
        "エラーが発生しました。",
    ),
    MessageDef(
        "107004",
        _ERR,
        "Error in format of device ID {device}.",
        "デバイス ID {device}のフォーマット・エラー。",
    ),
    MessageDef(
        "107005",
        _ERR,
        "Cannot bring NAS resource {tag} in service on server {server}.",
        "サーバ{server}で NAS リソース{tag}をサービス中の状態にできません。",
        action_en="Fix the problem, then bring the resource in service by hand.",
        action_ja="問題を修正したあと、手動でリソースをサービス中にしてください。",
    ),
    MessageDef(
        "107006",
        _ERR,
        "create: Device not specified.",
        "作成: デバイスが指定されていません。",
    ),
    MessageDef(
        "107007",
        _ERR,
        "Null Device returned by getId on {server}",
        "{server}で getId によってヌル・デバイスが戻されました。",
    ),
    MessageDef(
        "107008",
        _ERR,
        "Cannot open /etc/mtab file on {server}.",
        "{server}で /etc/mtab ファイルを開けません。",
    ),
    MessageDef(
        "107009",
        _WARN,
        "Illogical settings for NAS defaults on {server}."
        " Using defaults of 120 for LKNFSTIMEOUT and 5 for LKNFSSYSCALLTO.",
        "{server}上の NAS デフォルトの設定が非論理的です。"
        "LKNFSTIMEOUT には 120 のデフォルトを、LKNFSSYSCALLTO には 5 を使用しています。",
        action_en=(
            "Reset the NAS defaults so that three times LKNFSSYSCALLTO plus 5"
            " is less than LKNFSTIMEOUT."
        ),
        action_ja=(
            "LKNFSSYSCALLTO の 3 倍の値に 5 を加算した値が LKNFSTIMEOUT より小さくなるように、"
            "NAS デフォルト値をリセットします。"
        ),
    ),
    MessageDef(
        "107010",
        _ERR,
        "Error: detected conflict in expected tag name {tag} on target machine {server}.",
        "エラー: ターゲット・マシン{server}上の予想されたタグ名{tag}で競合が検出されました。",
        action_en="Delete the conflicting resource, then extend the hierarchy again.",
        action_ja="競合するリソースを削除し、階層を再拡張してください。",
    ),
    MessageDef(
        "107011",
        _ERR,
        'Error: mkdir of "{dir}" on "{server}" failed: "{reason}"',
        'エラー: "{server}"上の"{dir}"の mkdir が失敗しました: "{reason}"',
    ),
    MessageDef(
        "107012",
        _ERR,
        "Error: Exported file system {export} cannot be accessed on {server}.",
        "エラー: {server}で、エクスポートされたファイル・システム{export}にアクセスできません。",
        action_en=(
            "Possible causes: the server is not in the NFS server's list of systems the file"
            " system is exported to; or that list holds inconsistent entries that the showmount"
            " command does not show (when a file system is exported both to all systems and to"
            " particular systems, showmount reports only the particular ones). Correct the"
            " access problem of the exported file system, then extend the hierarchy again."
        ),
        action_ja=(
            "考えられる原因: サーバが、NFS サーバのエクスポートされたシステムのリストに"
            "含まれていない。エクスポートされたシステムのリストに、showmount コマンドで"
            "表示されない矛盾したエントリが含まれている(つまり、エクスポートされたシステムの"
            "リストによってシステムが全システムと特定のシステムの両方にエクスポートされる場合、"
            "showmount では特定のシステムのみが報告されます)。"
            "エクスポートされたファイル・システムのアクセス問題を訂正し、階層を再拡張してください。"
        ),
    ),
    MessageDef(
        "107013",
        _ERR,
        'Error: Mount authorization check for "{ip}:{export}" on "{server}" appears to be hung.'
        " Exiting.",
        'エラー: "{server}"での"{ip}:{export}"のマウント認証チェックが停止した可能性があります。'
        "終了します。",
        action_en="Correct the access problem, then extend the hierarchy again.",
        action_ja="アクセス問題を訂正し、階層を再拡張してください。",
    ),
)

_MOUNT_POINT = (
    MessageDef(
        "104901",
        _ERR,
        "The mount point {mount_point} is mounted",
        "マウント・ポイント{mount_point}はマウントされています",
        action_en="Give a mount point that is not mounted.",
        action_ja="マウントされていないマウント・ポイントを指定してください。",
    ),
    MessageDef(
        "104902",
        _ERR,
        "The mount point {mount_point} is not an absolute path",
        "マウント・ポイント{mount_point}が絶対パスではありません",
        action_en="Give a mount point that starts with a slash.",
        action_ja="スラッシュで始まるマウント・ポイントを指定してください。",
    ),
    # Not in the guide's table (it stops at 104902); worded in the same style.
    MessageDef(
        "104903",
        _ERR,
        "The mount point {mount_point} is not empty",
        "マウント・ポイント{mount_point}が空ではありません",
        action_en="Give a mount point that is an empty directory or does not exist yet.",
        action_ja="空のディレクトリ、またはまだ存在しないマウント・ポイントを指定してください。",
    ),
)

GUIDE_MESSAGES: tuple[MessageDef, ...] = (
    *_COMMON,
    *_CREATE,
    *_EXTEND,
    *_RECOVERY,
    *_NAS,
    *_MOUNT_POINT,
)
