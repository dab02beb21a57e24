#!/usr/bin/env bash
# Plays the race kit's stream to one callbridge binary and reports the kit's
# figures (CPU-s per 1M messages and messages/s, between the websocket
# upgrade and the pong after the last message) and the process's whole CPU
# time once the last activity reached the webhook (docs/performance.md).
#
# usage, from the root of a checkout:  docs/drain.sh [CALLBRIDGE_BINARY] [EVENTS] [seq|overlap]
# needs the race kit beside the checkout (../shared/perf) and go, python3, curl.
set -eu
KIT=$(cd "${KIT:-../shared/perf}" && pwd)
CB=${1:-}; EV=${2:-1000000}; MODE=${3:-seq}
work=$(mktemp -d -t cb-drain.XXXXXX)
trap 'kill $CBPID $SRV 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
if [ -z "$CB" ]; then go build -o "$work/cb" ./cmd/callbridge; CB=$work/cb; fi
(cd "$KIT/ariload" && GOWORK=off GOFLAGS= go build -o "$work/ariload" .)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ARI=127.0.0.1:$(port); HTTP=127.0.0.1:$(port)
"$work/ariload" -listen "$ARI" -recordings "$KIT/../recordings" -events "$EV" -mode "$MODE" \
  -stagger 1s -apidocs "$KIT/apidocs" > "$work/server.out" 2> "$work/server.err" &
SRV=$!
until grep -q 'listening on' "$work/server.err"; do sleep 0.2; done
mkdir -p "$work/state"
sed -e "s#@STATE@#$work/state#g" -e "s#@ARI@#$ARI#" -e "s#@HTTP@#$HTTP#" "$KIT/cb.yaml.tmpl" > "$work/cb.yaml"
"$CB" run --config "$work/cb.yaml" > "$work/cb.out" 2>&1 &
CBPID=$!
until [ -s "$work/server.out" ]; do sleep 0.05; done
pushed() { curl -s "$HTTP/metrics" | awk '/^callbridge_crmsync_pushes_total/ {s+=$2} END {print s+0}'; }
atpong=$(pushed)
last=-1
while p=$(pushed); [ "$p" != "$last" ]; do last=$p; sleep 1; done
read -r ut st < <(awk '{print $14, $15}' /proc/$CBPID/stat)
python3 - "$work/server.out" "$atpong" "$p" "$ut" "$st" "$(getconf CLK_TCK)" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).readline())
at, total, ut, st, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print("kit: %.2f CPU-s per 1M messages, %d messages/s; pushed at the pong %d of %d" % (s["cpu_s_per_1M"], s["events_per_s"], at, total))
print("all delivered: %.2f CPU-s for %d messages (start-up included)" % ((ut + st) / hz, s["events"]))
PY
