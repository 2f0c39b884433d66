#!/usr/bin/env bash
# What a recording at a room's own settings costs: one PER_ROOM-person
# room at QUALITY/FPS measured without and with such a recording, in
# alternating rounds on fresh server processes, server CPU read from
# /proc/PID/stat by `mcu loadtest`. With OLD set to another server binary
# (e.g. one built from an earlier commit) both servers run in the same
# rounds, so their figures compare on the same machine state.
#
#   bench/recording.sh
#   OLD=/tmp/mcu-old ROUNDS=3 bench/recording.sh
#   FORMAT=mp4 bench/recording.sh
#
# Environment: FORMAT (webm or mp4), ROUNDS (3), DURATION (20s), WARMUP
# (5s), PER_ROOM (3), QUALITY (720p), FPS (30), MCU (bin/mcu), OLD (unset),
# NOBUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
PER_ROOM=${PER_ROOM:-3}
QUALITY=${QUALITY:-720p}
FPS=${FPS:-30}
FORMAT=${FORMAT:-webm}
MCU=${MCU:-bin/mcu}
[ -n "${NOBUILD:-}" ] || go build -o "$MCU" ./cmd/mcu
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
# The server checks access tokens; the load generator signs its clients'
# with the same key (an older server binary ignores it).
MCU_KEYS=${MCU_KEYS:-$("$MCU" keys)}
export MCU_KEYS

# run SERVER_BINARY RECORD_OPTIONS: one fresh server, one measured window;
# prints the server's cores.
run() {
  local bin=$1 record=$2 log="$work/server.log" url=""
  rm -rf "$work/rec"
  "$bin" serve -http 127.0.0.1:0 -quality "$QUALITY" -fps "$FPS" -recordings "$work/rec" 2>"$log" &
  server_pid=$!
  for _ in $(seq 100); do
    url=$(sed -n 's/.*msg=serving url=http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "recording.sh: $bin did not start" >&2; cat "$log" >&2; exit 1; }
  "$MCU" loadtest -url "ws://$url/ws" -server-pid "$server_pid" -rooms 1 -per-room "$PER_ROOM" \
    -duration "$DURATION" -warmup "$WARMUP" -watch 0 -tsv ${record:+-record "$record"} |
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["server_cores"], $c["fps_min"] }'
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

servers=("new:$MCU")
[ -z "${OLD:-}" ] || servers+=("old:$OLD")
printf 'round\tserver\trecording\tserver_cores\tfps_min\n' >"$work/rows.tsv"
for r in $(seq "$ROUNDS"); do
  for s in "${servers[@]}"; do
    name=${s%%:*} bin=${s#*:}
    for rec in "" "{\"format\":\"$FORMAT\"}"; do
      read -r cores fps < <(run "$bin" "$rec")
      printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "${rec:+$FORMAT}" "$cores" "$fps" | tee -a "$work/rows.tsv" >&2
    done
  done
done

echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ); one $PER_ROOM-person room at $QUALITY$FPS, $DURATION windows after $WARMUP, $ROUNDS rounds"
echo "| server | CPU without recording (median) | with a $FORMAT recording at the room's settings (median) | with / without (median of rounds) | lowest receiver fps with recording |"
echo "|---|---|---|---|---|"
awk -F'\t' 'NR > 1 {
  k = $2; if ($3 == "") { no[k, $1] = $4 } else { yes[k, $1] = $4; fps[k] = (fps[k] == "" || $5 < fps[k]) ? $5 : fps[k] }
  names[k] = 1; rounds[$1] = 1
}
function med(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
  for (k in names) {
    n = 0
    for (r in rounds) { n++; a[n] = no[k, r]; b[n] = yes[k, r]; q[n] = yes[k, r] / no[k, r] }
    printf "| %s | %.3f cores | %.3f cores | %.2f | %s |\n", k, med(a, n), med(b, n), med(q, n), fps[k]
  }
}' "$work/rows.tsv"
