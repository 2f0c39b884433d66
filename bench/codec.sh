#!/usr/bin/env bash
# Live codec benchmark: VP8 and H.264 output side by side in one run.
#   (a) one 4-person room at 720p30, ROUNDS rounds alternating the codec:
#       server CPU per room (median of rounds) and the H.264/VP8 ratio
#   (b) HELD ("6 8") 4-person rooms at 720p30 with each codec: rooms whose
#       slowest receiver got >= 29 fps
# Each scenario runs `mcu loadtest` against a fresh `mcu serve -codec C`
# started as a separate process; server CPU is read from /proc/PID/stat.
# The encoders alone are compared (CPU per frame, SSIM) by
#   go test -run '^$' -bench LiveEncoders -benchtime 1x ./transcode
#
#   bench/codec.sh                         (~5 min: 20 s windows after 5 s warm-up)
#   DURATION=5s WARMUP=3s ROUNDS=1 bench/codec.sh   (quick)
#
# Environment: DURATION, WARMUP, ROUNDS (2), HELD ("6 8"), QUALITY (720p),
# FPS (30), MCU (bin/mcu), NOBUILD=1, KEEP=DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
ROUNDS=${ROUNDS:-2}
HELD=${HELD:-6 8}
QUALITY=${QUALITY:-720p}
FPS=${FPS:-30}
MCU=${MCU:-bin/mcu}
. bench/server.sh

# scenario NAME CODEC ROOMS: one fresh server, one loadtest; appends
# "CODEC<TAB>row" to $work/NAME.tsv (header once).
scenario() {
  local name=$1 codec=$2 rooms=$3 out
  CODEC=$codec start_server "$name-$codec-$rooms"
  echo "codec.sh: $name: $rooms room(s) x 4 at $QUALITY$FPS, $codec, for $DURATION after $WARMUP" >&2
  out=$("$MCU" loadtest -url "ws://$server_url/ws" -server-pid "$server_pid" -rooms "$rooms" -per-room 4 \
    -quality "$QUALITY" -fps "$FPS" -duration "$DURATION" -warmup "$WARMUP" -watch 0 -tsv)
  stop_server
  [ -s "$work/$name.tsv" ] || printf 'codec\t%s\n' "$(echo "$out" | head -1)" >"$work/$name.tsv"
  printf '%s\t%s\n' "$codec" "$(echo "$out" | tail -1)" >>"$work/$name.tsv"
}

for _ in $(seq "$ROUNDS"); do
  scenario one vp8 1
  scenario one h264 1
done
for n in $HELD; do
  scenario held vp8 "$n"
  scenario held h264 "$n"
done

echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ); window $DURATION after $WARMUP warm-up"
echo "Publishers: 640x360@30 VP8 500 kb/s + Opus, pre-encoded and replayed; every participant also receives (the load generator offers both codecs)."
echo
echo "(a) one 4-person room at $QUALITY$FPS, $ROUNDS round(s) alternating"
echo "| codec | server CPU per round | median | receiver fps min | downlink per receiver kb/s |"
echo "|---|---|---|---|---|"
table "$work/one.tsv" '
function med(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $c["codec"]; n[k]++; cpu[k, n[k]] = $c["server_cores"]; list[k] = list[k] (list[k] ? ", " : "") $c["server_cores"]
  if (!(k in fps) || $c["fps_min"] < fps[k]) fps[k] = $c["fps_min"]; dl[k] = $c["downlink_kbps"] }
END {
  for (k in n) { for (i = 1; i <= n[k]; i++) a[i] = cpu[k, i]; m[k] = med(a, n[k]); delete a }
  for (k in n) printf "| %s | %s | %.2f | %s | %s |\n", k, list[k], m[k], fps[k], dl[k]
  if (m["vp8"] > 0) printf "\nH.264 / VP8 server CPU: %.2f\n", m["h264"] / m["vp8"]
}'
echo
echo "(b) 4-person rooms at $QUALITY$FPS held at >= 29 fps"
echo "| codec | rooms | rooms >= 29 fps | receiver fps min / median | server CPU | load gen CPU | machine busy |"
echo "|---|---|---|---|---|---|---|"
table "$work/held.tsv" '{
  printf "| %s | %s | %s | %s / %s | %s | %s | %s |\n", $c["codec"], $c["rooms"], $c["rooms_held"], $c["fps_min"], $c["fps_median"], $c["server_cores"], $c["loadgen_cores"], $c["machine_busy_cores"]
}'
if [ -n "${KEEP:-}" ]; then echo "reports and server logs in $work"; fi
