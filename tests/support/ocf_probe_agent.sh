#!/bin/sh
# A tiny OCF resource agent for the ocf kit's tests: it does what files in its
# "dir" parameter say. ACTION.rc holds the exit code of ACTION (default 0),
# ACTION.sleep makes ACTION sleep that many seconds first, and every run records its
# OCF_* environment in env.ACTION (monitor: env.monitor.LEVEL).
meta_data() {
cat <<END
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="Probe" version="1.0">
<version>1.0</version>
<longdesc lang="en">Does what the files in its directory say.</longdesc>
<shortdesc lang="en">Test agent</shortdesc>
<parameters>
<parameter name="dir" unique="1" required="1">
<longdesc lang="en">Directory of behaviour files.</longdesc>
<shortdesc lang="en">Behaviour directory</shortdesc>
<content type="string"/>
</parameter>
<parameter name="count" unique="0">
<longdesc lang="en">A number.</longdesc>
<shortdesc lang="en">A number</shortdesc>
<content type="integer" default="3"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="10s" />
<action name="stop" timeout="10s" />
<action name="monitor" timeout="10s" interval="10s" depth="0" />
<action name="monitor" timeout="15s" interval="60s" depth="20" />
<action name="meta-data" timeout="5s" />
<action name="validate-all" timeout="10s" />
</actions>
</resource-agent>
END
}
action="$1"
if [ "$action" = meta-data ]; then meta_data; exit 0; fi
d="$OCF_RESKEY_dir"
[ -d "$d" ] || exit 5
name="$action"
[ "$action" = monitor ] && name="monitor.${OCF_CHECK_LEVEL:-none}"
env | grep '^OCF_' | sort > "$d/env.$name"
[ -f "$d/$action.sleep" ] && sleep "$(cat "$d/$action.sleep")"
if [ -f "$d/$action.rc" ]; then
    echo "probe: $action exits $(cat "$d/$action.rc")" >&2
    exit "$(cat "$d/$action.rc")"
fi
case "$action" in
    start) touch "$d/running" ;;
    stop) rm -f "$d/running" ;;
    monitor) [ -f "$d/running" ] || exit 7 ;;
esac
exit 0
