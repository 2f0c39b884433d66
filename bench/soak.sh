#!/usr/bin/env bash
# Soak benchmark (not part of make test): a server process under join/leave
# churn for MINUTES minutes in 3 rooms, each with one long-lived anchor
# participant and a WebM recording running, while two more participants per
# room join, stay CHURN seconds and leave, over and over. Every 10 s it
# samples the server's RSS, goroutines and open files; at the end it stops
# the recordings and clients, waits for the rooms to close, and samples the
# idle server again. Output: a TSV of the samples and a summary.
#
#   bench/soak.sh                 (30 minutes at 360p15)
#   MINUTES=5 bench/soak.sh       (quick look)
#
# Environment: MINUTES (30), CHURN (6), QUALITY (360p), FPS (15),
# MCU (bin/mcu), NOBUILD=1, OUT (file for the TSV; default stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-30}
CHURN=${CHURN:-6}
QUALITY=${QUALITY:-360p}
FPS=${FPS:-15}
MCU=${MCU:-bin/mcu}
[ -n "${NOBUILD:-}" ] || go build -o "$MCU" ./cmd/mcu
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The server checks access tokens: the load generator signs its clients'
# with this key, and curl carries an operator token for every room.
MCU_KEYS=${MCU_KEYS:-$("$MCU" keys)}
export MCU_KEYS
ops_token=$("$MCU" token -identity soak -list -record -no-join -valid-for 24h)
auth=(-H "Authorization: Bearer $ops_token")

"$MCU" serve -http 127.0.0.1:0 -quality "$QUALITY" -fps "$FPS" -recordings "$work/rec" -metrics 2>"$work/server.log" &
server=$!
pids+=("$server")
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/.*msg=serving url=http:\/\/\([0-9.:]*\).*/\1/p' "$work/server.log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "soak.sh: server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }
fds() { ls "/proc/$server/fd" | wc -l; }
goroutines() { curl -fsS "${auth[@]}" "http://$url/metrics" | awk '/^go_goroutines / {print $2}'; }
sample() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(rss_mib)" "$(goroutines)" "$(fds)"; }

out=${OUT:-/dev/stdout}
printf 'seconds\tphase\trss_mib\tgoroutines\topen_files\n' >"$out"
start=$(date +%s)
sample 0 start >>"$out"

# Anchors: one participant per room for the whole run.
total=$((MINUTES * 60))
"$MCU" loadtest -url "ws://$url/ws" -rooms 3 -per-room 1 -room-prefix soak- -warmup 1s -duration "$((total + 30))s" -watch 0 -publish-size 320x240 -publish-fps 15 -publish-kbps 200 >/dev/null 2>"$work/anchors.log" &
pids+=("$!")
sleep 5
for r in 1 2 3; do
  curl -fsS "${auth[@]}" -X POST -H 'Content-Type: application/json' -d '{"name":"soak"}' "http://$url/api/rooms/soak-$r/recordings" >>"$work/recordings.json"
  echo >>"$work/recordings.json"
done

# Churn: two more per room join, stay CHURN s, leave; again and again.
(
  while true; do
    "$MCU" loadtest -url "ws://$url/ws" -rooms 3 -per-room 2 -room-prefix soak- -warmup 0s -duration "${CHURN}s" -watch 0 -publish-size 320x240 -publish-fps 15 -publish-kbps 200 >/dev/null 2>>"$work/churn.log" || true
    sleep 1
  done
) &
churner=$!
pids+=("$churner")

while [ $(($(date +%s) - start)) -lt "$total" ]; do
  sleep 10
  sample $(($(date +%s) - start)) churn >>"$out"
done
kill "$churner" 2>/dev/null || true
pkill -P "$churner" 2>/dev/null || true
for id in $(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' "$work/recordings.json"); do
  curl -fsS "${auth[@]}" -X POST "http://$url/api/recordings/$id/stop" >/dev/null || true
done
kill "${pids[1]}" 2>/dev/null || true # anchors
for i in 1 2 3 4 5 6; do
  sleep 10
  sample $(($(date +%s) - start)) idle >>"$out"
done
echo "soak.sh: rooms left: $(curl -fsS "${auth[@]}" "http://$url/api/rooms" | grep -o '"name"' | wc -l); recordings: $(curl -fsS "${auth[@]}" "http://$url/api/recordings" | grep -o '"state":"[a-z]*"' | sort | uniq -c | tr '\n' ' ')" >&2
