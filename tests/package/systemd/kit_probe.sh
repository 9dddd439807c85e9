#!/bin/sh
# Runs inside the systemd-nspawn container as a oneshot service (probe.service): the
# installed daemon manages a real unit (sf-demo.service) with the systemd kit, under
# the real service manager. NAME=VALUE lines to /results/out.
out=/results/out
say() { echo "$1=$2" >> "$out"; }
show() { systemctl show -p "$2" --value "$1"; }
sf() { /usr/bin/standfast "$@" >> /results/cli.txt 2>&1; }
state() {
    /usr/bin/standfast status --json 2>/dev/null | /usr/lib/standfast/venv/bin/python -c \
        'import json, sys; print({h["tag"]: h["state"] for h in json.load(sys.stdin)["hierarchies"]}.get("sf-demo.service", "none"))'
}
wait_for() {  # wait_for COMMAND... until it succeeds, at most 20 s
    i=0
    until "$@" || [ $i -ge 200 ]; do sleep 0.1; i=$((i + 1)); done
}

# As an administrator has it before the cluster takes it over: enabled at boot.
systemctl enable sf-demo.service 2>/dev/null
say enabled_before "$(systemctl is-enabled sf-demo.service)"
echo "SF_QUICKCHECK_INTERVAL=1" > /etc/default/standfast
systemctl start standfast
say start_rc $?

# Refusals change nothing.
sf resource create --kit systemd --id no-such.service
say missing_rc $?
sf resource create --kit systemd --id "not a unit"
say bad_name_rc $?

sf resource create --kit systemd --id sf-demo.service
say create_rc $?
say active_after_create "$(show sf-demo.service ActiveState)"
say enabled_after "$(systemctl is-enabled sf-demo.service)"
say state_after_create "$(state)"

sf resource out-of-service sf-demo.service
say oos_rc $?
say active_after_oos "$(show sf-demo.service ActiveState)"
sf resource in-service sf-demo.service
say is_rc $?
pid=$(show sf-demo.service MainPID)
say active_after_is "$(show sf-demo.service ActiveState)"

# The application dies behind the cluster's back: the quick check sees the unit
# failed, local recovery restarts it.
kill -KILL "$pid"
is_failed() { [ "$(show sf-demo.service ActiveState)" = failed ]; }
wait_for is_failed
say failed_seen "$(show sf-demo.service ActiveState)"
recovered() {
    new=$(show sf-demo.service MainPID)
    [ "$(show sf-demo.service ActiveState)" = active ] && [ "$new" != 0 ] && [ "$new" != "$pid" ]
}
wait_for recovered
say active_after_kill "$(show sf-demo.service ActiveState)"
say new_pid "$( [ "$(show sf-demo.service MainPID)" != "$pid" ] && echo yes || echo no)"
say state_after_kill "$(state)"

sf resource out-of-service sf-demo.service
sf resource delete sf-demo.service
say delete_rc $?
say state_after_delete "$(state)"
say active_after_delete "$(show sf-demo.service ActiveState)"
systemctl stop standfast
journalctl --no-pager -u standfast -u sf-demo > /results/journal.txt 2>&1
say done yes
