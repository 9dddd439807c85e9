#!/bin/sh
# Runs inside each of two systemd-nspawn containers (server1, server2) as a oneshot
# service (probe.service): two installed daemons form a cluster over the test's bridge,
# server1 makes a real unit (sf-demo.service) a resource with the systemd kit and
# extends it to server2; the host then power-cuts server1 (SIGKILL of its PID 1) and
# server2 takes the unit over. The two containers meet through files in /shared.
# NAME=VALUE lines to /results/out.
out=/results/out
me=$(hostname)
say() { echo "$1=$2" >> "$out"; }
show() { systemctl show -p "$2" --value "$1"; }
sf() { /usr/bin/standfast "$@" >> /results/cli.txt 2>&1; }
py() { /usr/lib/standfast/venv/bin/python "$@"; }
# ask WHAT: the cluster as this server's daemon sees it (status --json).
ask() { /usr/bin/standfast status --json 2>/dev/null | py /results/pair_view.py "$@"; }
wait_for() {  # wait_for SECONDS COMMAND... until it succeeds
    n=$(($1 * 10)); shift; i=0
    until "$@" || [ $i -ge $n ]; do sleep 0.1; i=$((i + 1)); done
    "$@"
}
now() { date +%s.%N; }
finish() {
    journalctl --no-pager -u standfast -u sf-demo > /results/journal.txt 2>&1
    say done yes
}

case "$me" in
    server1) ip=10.77.0.1 ;;
    *) ip=10.77.0.2 ;;
esac
ip addr add "$ip/24" dev host0 && ip link set host0 up
say addr_rc $?
echo "SF_QUICKCHECK_INTERVAL=1" > /etc/default/standfast

if [ "$me" = server1 ]; then
    sf cluster init pair --server server1 --address net1=10.77.0.1 --quorum none
    sf cluster add-server server2 --address net1=10.77.0.2
    say define_rc $?
    cp /var/lib/standfast/cluster.json /var/lib/standfast/cluster.key /shared/
    touch /shared/defined
    systemctl enable sf-demo.service 2>/dev/null  # as the administrator had it
    systemctl start standfast
    say start_rc $?
    wait_for 60 test -e /shared/server2-up
    wait_for 30 ask alive server2
    say sees_server2 $?
    sf resource create --kit systemd --id sf-demo.service
    say create_rc $?
    say enabled_after "$(systemctl is-enabled sf-demo.service)"
    # server2 has the unit enabled at boot (the distribution's preset on a first
    # boot): the extend is refused until its administrator disables it there.
    sf resource extend sf-demo.service --target server2
    say extend_enabled_rc $?
    touch /shared/extend-refused
    wait_for 30 test -e /shared/disabled
    sf resource extend sf-demo.service --target server2
    say extend_rc $?
    wait_for 20 ask state server2 sf-demo.service OSU
    say remote_copy $?
    say active_here "$(show sf-demo.service ActiveState)"
    say holder_before "$(ask holder sf-demo.service)"
    finish
    touch /shared/server1-ready
    sleep infinity  # until the host cuts the power
fi

# server2: joins with server1's definition and key, as an administrator copies them.
wait_for 120 test -e /shared/defined
install -d -m 0700 /var/lib/standfast
install -m 0600 /shared/cluster.json /shared/cluster.key /var/lib/standfast/
systemctl start standfast
say start_rc $?
say enabled_at_start "$(systemctl is-enabled sf-demo.service)"
touch /shared/server2-up
wait_for 90 test -e /shared/extend-refused
systemctl disable sf-demo.service 2>/dev/null  # what 195108 tells the administrator
touch /shared/disabled
wait_for 150 test -e /shared/crashed
say active_before "$(show sf-demo.service ActiveState)"
# The observer is systemd here: the moment the unit is active on this server.
is_active() { [ "$(show sf-demo.service ActiveState)" = active ]; }
wait_for 60 is_active
say active_at "$(now)"
say active_after "$(show sf-demo.service ActiveState)"
say enabled_here "$(systemctl is-enabled sf-demo.service)"
wait_for 10 ask state server2 sf-demo.service ISP
say state_here $?
say server1_alive "$(ask alive server1 && echo yes || echo no)"
say holder_after "$(ask holder sf-demo.service)"
# An administrator's account for the host's browser to look at the GUI with (PAM:
# the host's /etc/pam.d is bound in), while the cluster stays as the cut left it.
if [ -e /shared/gui-password ]; then
    groupadd standfast-admin 2>/dev/null
    useradd --no-create-home --shell /usr/sbin/nologin -G standfast-admin sfgui 2>/dev/null
    echo "sfgui:$(cat /shared/gui-password)" | chpasswd
    say gui_account $?
    touch /shared/gui-ready
    wait_for 180 test -e /shared/gui-done
fi
/usr/bin/standfast events --json > /results/events.json 2>/dev/null
systemctl stop standfast
finish
