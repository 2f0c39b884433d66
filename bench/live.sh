#!/usr/bin/env bash
# Live-room benchmark: runs `mcu loadtest` against `mcu serve` started as a
# separate process on a free loopback port (a fresh server for every
# scenario), and prints three tables:
#   (a) 4-person rooms at 720p30, R = 1..4 rooms: CPU per room, fps held
#   (b) one room at 720p30 growing from 2 to 9 people: downlink per receiver
#   (c) server-added latency over all the runs
# Publishers replay pre-encoded 640x360@30 VP8 (500 kb/s) and Opus; every
# participant also receives. Server CPU is read from /proc/PID/stat.
#
#   bench/live.sh                         (~6 min: 20 s windows after 5 s warm-up)
#   DURATION=5s WARMUP=3s bench/live.sh   (quick: ~2 min)
#
# Environment: DURATION, WARMUP, ROOMS ("1 2 3 4"), SIZES ("2 3 4 5 6 7 8 9"),
# PER_ROOM (4), QUALITY (720p), FPS (30), WATCH (rooms with one receiver that
# decodes the composite to time pictures end to end: 1; 0 for none), CODEC
# (the server's live codec: auto, which gives the load generator H.264;
# vp8; h264), MCU (bin/mcu), NOBUILD=1 to use MCU as is, KEEP=DIR to keep
# the servers' logs and the full reports.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
ROOMS=${ROOMS:-1 2 3 4}
SIZES=${SIZES:-2 3 4 5 6 7 8 9}
PER_ROOM=${PER_ROOM:-4}
QUALITY=${QUALITY:-720p}
FPS=${FPS:-30}
WATCH=${WATCH:-1}
MCU=${MCU:-bin/mcu}
. bench/server.sh

# scenario NAME ROOMS PER_ROOM: one fresh server, one loadtest; appends the
# TSV row to $work/NAME.tsv.
scenario() {
  local name=$1 rooms=$2 per=$3 out
  start_server "$name-$rooms-$per"
  echo "live.sh: $name: $rooms room(s) x $per at $QUALITY$FPS for $DURATION after $WARMUP" >&2
  out=$("$MCU" loadtest -url "ws://$server_url/ws" -server-pid "$server_pid" -rooms "$rooms" -per-room "$per" \
    -quality "$QUALITY" -fps "$FPS" -duration "$DURATION" -warmup "$WARMUP" -watch "$WATCH" -tsv)
  stop_server
  [ -s "$work/$name.tsv" ] || echo "$out" | head -1 >"$work/$name.tsv"
  echo "$out" | tail -1 >>"$work/$name.tsv"
}

for r in $ROOMS; do scenario rooms "$r" "$PER_ROOM"; done
for n in $SIZES; do scenario sizes 1 "$n"; done


echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ); window $DURATION after $WARMUP warm-up"
echo "Publishers: 640x360@30 VP8 500 kb/s + Opus, pre-encoded and replayed; every participant also receives."
echo "CPU in cores (1.00 = one core busy); 'others' = machine busy - server - load generator."
echo
echo "(a) $PER_ROOM-person rooms at $QUALITY$FPS"
echo "| rooms | server CPU | CPU per room | load gen CPU | others | receiver fps min / median | rooms >= 29 fps | frame interval p50 / p95 / max ms | downlink per receiver kb/s | added latency (room median) ms | end-to-end p50 / p95 ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
table "$work/rooms.tsv" '{
  o = $c["machine_busy_cores"] - $c["server_cores"] - $c["loadgen_cores"]; if (o < 0) o = 0
  printf "| %s | %s | %s | %s | %.2f | %s / %s | %s of %s | %s / %s / %s | %s | %s | %s / %s |\n", $c["rooms"], $c["server_cores"], $c["server_cores_per_room"], $c["loadgen_cores"], o, $c["fps_min"], $c["fps_median"], $c["rooms_held"], $c["rooms"], $c["interval_p50_ms"], $c["interval_p95_ms"], $c["interval_max_ms"], $c["downlink_kbps"], $c["latency_median_ms"], $c["e2e_p50_ms"], $c["e2e_p95_ms"]
  if ($c["warnings"] != "-") warn = warn "warning (" $c["rooms"] " rooms): " $c["warnings"] "\n"
} END { printf "%s", warn }'
echo
echo "(b) one room at $QUALITY$FPS growing from 2 to 9 people"
echo "| people | downlink per receiver kb/s (min-max) | of which video kb/s | receiver fps min / median | server CPU | added latency (room median) ms | end-to-end p50 / p95 ms |"
echo "|---|---|---|---|---|---|---|"
table "$work/sizes.tsv" '{
  printf "| %s | %s (%s-%s) | %s | %s / %s | %s | %s | %s / %s |\n", $c["per_room"], $c["downlink_kbps"], $c["downlink_min_kbps"], $c["downlink_max_kbps"], $c["downlink_video_kbps"], $c["fps_min"], $c["fps_median"], $c["server_cores"], $c["latency_median_ms"], $c["e2e_p50_ms"], $c["e2e_p95_ms"]
  if ($c["warnings"] != "-") warn = warn "warning (" $c["per_room"] " people): " $c["warnings"] "\n"
} END { printf "%s", warn }'
echo
tail -n +2 "$work/sizes.tsv" | cat "$work/rooms.tsv" - >"$work/all.tsv"
echo "(c) server-added latency over all $(($(wc -l <"$work/all.tsv") - 1)) runs"
table "$work/all.tsv" '
function med(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return a[int((n + 1) / 2)]
}
{ n++; l[n] = $c["latency_median_ms"]; e[n] = $c["e2e_p50_ms"]
  if ($c["latency_median_ms"] > lmax) lmax = $c["latency_median_ms"]
  if ($c["e2e_p50_ms"] > emax) emax = $c["e2e_p50_ms"] }
END {
  printf "room-measured (picture decoded -> composite sent): median of runs %.1f ms, worst run %.1f ms (goal <= 50 ms)\n", med(l, n), lmax
  printf "end-to-end at receivers (publisher sent -> composite arrived): median of runs %.1f ms, worst run %.1f ms\n", med(e, n), emax
}'
if [ -n "${KEEP:-}" ]; then echo "reports and server logs in $work"; fi
