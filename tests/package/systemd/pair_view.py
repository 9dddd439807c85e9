"""Reads ``standfast status --json`` on stdin for pair_probe.sh (the container has no
jq): ``alive NAME`` and ``state SERVER TAG STATE`` answer by their exit status,
``holder TAG`` prints the server whose copy of TAG's hierarchy is in service."""

import json
import sys

cluster = json.load(sys.stdin).get("cluster", {})
what, *args = sys.argv[1:]
if what == "alive":
    sys.exit(0 if cluster.get("servers", {}).get(args[0], {}).get("alive") else 1)
copies = [
    c
    for h in cluster.get("hierarchies", [])
    if any(c["tag"] == args[-2 if what == "state" else 0] for c in h["copies"])
    for c in h["copies"]
]
if what == "state":
    server, _tag, state = args
    sys.exit(0 if any(c["server"] == server and c["state"] == state for c in copies) else 1)
print(",".join(sorted(c["server"] for c in copies if c["state"] == "ISP")) or "none")
