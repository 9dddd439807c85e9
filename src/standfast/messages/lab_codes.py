"""Messages of ``standfast lab``, the test bed (codes 190900-190999)."""

from __future__ import annotations

from standfast.messages import MessageDef, Severity

_ERR = Severity.ERROR

LAB_MESSAGES = (
    MessageDef(
        "190901",
        _ERR,
        "Server {server} is not running (its qemu, pid {pid}, is gone): nothing was run",
        "サーバ{server}は動作していません(qemu、pid {pid} が存在しません): 何も実行しませんでした",
        action_en="Boot it again with: standfast lab restart {server}",
        action_ja="standfast lab restart {server} で再起動してください。",
    ),
    MessageDef(
        "190902",
        _ERR,
        "The qemu of server {server} (pid {pid}) did not exit within {seconds} s of SIGKILL;"
        " no new one was started",
        "サーバ{server}の qemu(pid {pid})が SIGKILL から{seconds}秒以内に終了しませんでした。"
        "新しい qemu は起動していません",
        action_en="Check the process (ps -o stat,wchan -p {pid}) and run the command again.",
        action_ja="プロセスを確認し(ps -o stat,wchan -p {pid})、コマンドを再実行してください。",
    ),
    MessageDef(
        "190903",
        _ERR,
        "{path} is under {hidden}, which the lab's guests cover with mounts of their own,"
        " and it cannot be shared with them",
        "{path}は{hidden}の下にあります。ラボのゲストはそこに独自のファイルシステムを"
        "マウントするため、このパスをゲストと共有できません",
        action_en="Put the checkout and its virtual environment in a directory such as /srv"
        " or /root (or under /tmp, without spaces or commas in the path), then run again.",
        action_ja="チェックアウトと仮想環境を /srv や /root などのディレクトリ"
        "(または空白やカンマを含まない /tmp 以下のパス)に置いてから再実行してください。",
    ),
    MessageDef(
        "190904",
        _ERR,
        "Server {server} of the netns lab has no daemon running",
        "netns ラボのサーバ{server}ではデーモンが動作していません",
        action_en="Start it with: standfast lab restart {server}",
        action_ja="standfast lab restart {server} で起動してください。",
    ),
    MessageDef(
        "190905",
        _ERR,
        "Processes of server {server} still run {seconds} s after its power cut: {pids}",
        "電源断から{seconds}秒経過しても、サーバ{server}のプロセスが動作しています: {pids}",
        action_en="Stop them by hand (kill -KILL {pids}) before restarting the server.",
        action_ja="サーバを再起動する前に手動で停止してください(kill -KILL {pids})。",
    ),
)

__all__ = ["LAB_MESSAGES"]
