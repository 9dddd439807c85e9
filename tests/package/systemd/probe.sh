#!/bin/sh
# Runs inside the systemd-nspawn container as a oneshot service (probe.service) and
# writes NAME=VALUE lines to /results/out: the real service manager starting,
# watching and restarting the installed units.
out=/results/out
say() { echo "$1=$2" >> "$out"; }
show() { systemctl show -p "$2" --value "$1"; }
ns() { readlink "/proc/$1/ns/mnt"; }

# The daemon: Type=notify, so `systemctl start` returns once READY=1 came.
systemctl start standfast
say start_rc $?
say active "$(show standfast ActiveState)/$(show standfast SubState)"
say status_text "$(show standfast StatusText)"
say watchdog "$(show standfast WatchdogUSec)"
pid=$(show standfast MainPID)
say pid "$pid"
/usr/bin/standfast status --json >/dev/null 2>&1
say cli_status_rc $?
# Reload (logrotate's postrotate) only reopens the log: the same daemon keeps running.
systemctl reload standfast
say reload_rc $?
say reloaded_pid "$(show standfast MainPID)"
# Mounts made by the daemon reach everyone only if it shares PID 1's mount namespace.
say daemon_mount_ns "$( [ "$(ns "$pid")" = "$(ns 1)" ] && echo host || echo private)"

# A daemon that stops answering (here: stopped outright) stops the watchdog's pets:
# systemd kills it and the restart brings a new one up.
kill -STOP "$pid"
i=0
while [ $i -lt 200 ]; do
    new=$(show standfast MainPID)
    if [ "$(show standfast NRestarts)" -ge 1 ] && [ "$new" != "$pid" ] && [ "$new" != 0 ] \
        && [ "$(show standfast SubState)" = running ]; then
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
say restarts "$(show standfast NRestarts)"
say restarted_pid "$(show standfast MainPID)"
say active_after "$(show standfast ActiveState)/$(show standfast SubState)"
say watchdog_timeouts "$(journalctl -u standfast --no-pager | grep -c 'Watchdog timeout')"
systemctl stop standfast
say stop_rc $?
say stopped "$(show standfast ActiveState)"

# The witness, fully sandboxed.
mkdir -p /etc/standfast
(umask 077 && head -c 32 /dev/urandom | base64 > /etc/standfast/cluster.key)
systemctl start standfast-witness
say witness_start_rc $?
i=0
until /usr/lib/standfast/venv/bin/python -c \
    "import socket; socket.create_connection(('127.0.0.1', 7802), timeout=1).close()" \
    2>/dev/null || [ $i -ge 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
say witness_listening "$( [ $i -lt 100 ] && echo yes || echo no)"
wpid=$(show standfast-witness MainPID)
say witness_active "$(show standfast-witness ActiveState)/$(show standfast-witness SubState)"
say witness_capeff "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$wpid/status")"
say witness_nonewprivs "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "/proc/$wpid/status")"
say witness_mount_ns "$( [ "$(ns "$wpid")" = "$(ns 1)" ] && echo host || echo private)"
say witness_restarts "$(show standfast-witness NRestarts)"
systemctl stop standfast-witness
say witness_stop_rc $?

journalctl --no-pager -u standfast -u standfast-witness > /results/journal.txt 2>&1
# Native journal records: the message code is a field; the file got no copy.
say journal_code "$(journalctl STANDFAST_CODE=190215 -o cat --no-pager | head -n 1 | cut -c 1-6)"
say journal_priority "$(journalctl STANDFAST_CODE=190215 -o export --no-pager | sed -n 's/^PRIORITY=//p' | head -n 1)"
say log_file_lines "$(cat /var/log/standfast/*.log 2>/dev/null | wc -l)"
say done yes
