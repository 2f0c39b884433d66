#!/usr/bin/env bash
# WHEP viewer benchmark: one 4-person room at 720p30 watched by 0, 10 and 50
# WHEP viewers, and for comparison one 5-person room without viewers (the
# cost of one more participant). Each scenario runs `mcu loadtest` against a
# fresh `mcu serve` started as a separate process on a free loopback port;
# server CPU is read from /proc/PID/stat. Viewers are pion clients of the
# load generator that only count what they receive.
#
#   bench/whep.sh                          (~3 min: 20 s windows after 8 s warm-up)
#   DURATION=5s WARMUP=3s bench/whep.sh    (quick)
#
# Environment: DURATION, WARMUP, VIEWERS ("0 10 50"), QUALITY (720p), FPS (30),
# CODEC (auto), MCU (bin/mcu), NOBUILD=1 to use MCU as is, KEEP=DIR to keep the servers'
# logs and the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-8s}
VIEWERS=${VIEWERS:-0 10 50}
QUALITY=${QUALITY:-720p}
FPS=${FPS:-30}
MCU=${MCU:-bin/mcu}
. bench/server.sh

# scenario PEOPLE VIEWERS: one fresh server, one loadtest; appends the TSV
# row to $work/runs.tsv.
scenario() {
  local people=$1 viewers=$2 out
  start_server "p$people-v$viewers"
  echo "whep.sh: $people people + $viewers WHEP viewers at $QUALITY$FPS for $DURATION after $WARMUP" >&2
  out=$("$MCU" loadtest -url "ws://$server_url/ws" -server-pid "$server_pid" -rooms 1 -per-room "$people" -viewers "$viewers" \
    -quality "$QUALITY" -fps "$FPS" -duration "$DURATION" -warmup "$WARMUP" -watch 0 -tsv)
  stop_server
  [ -s "$work/runs.tsv" ] || echo "$out" | head -1 >"$work/runs.tsv"
  echo "$out" | tail -1 >>"$work/runs.tsv"
}

for v in $VIEWERS; do scenario 4 "$v"; done
scenario 5 0

echo
echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ); window $DURATION after $WARMUP warm-up"
echo "Publishers: 640x360@30 VP8 500 kb/s + Opus, pre-encoded and replayed; every participant also receives."
echo "CPU in cores (1.00 = one core busy); 'others' = machine busy - server - load generator (the viewers run in the load generator)."
echo
echo "| people | WHEP viewers | server CPU | vs. 4 people alone | load gen CPU | others | downlink per viewer kb/s | viewer fps min | participant fps min / median | downlink per participant kb/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
{
  if ($c["per_room"] == 4 && $c["viewers_per_room"] == 0) base = $c["server_cores"]
  o = $c["machine_busy_cores"] - $c["server_cores"] - $c["loadgen_cores"]; if (o < 0) o = 0
  d = (base != "") ? sprintf("%+.2f", $c["server_cores"] - base) : "-"
  vd = ($c["viewers_per_room"] > 0) ? $c["viewer_downlink_kbps"] : "-"
  vf = ($c["viewers_per_room"] > 0) ? $c["viewer_fps_min"] : "-"
  printf "| %s | %s | %s | %s | %s | %.2f | %s | %s | %s / %s | %s |\n", $c["per_room"], $c["viewers_per_room"], $c["server_cores"], d, $c["loadgen_cores"], o, vd, vf, $c["fps_min"], $c["fps_median"], $c["downlink_kbps"]
  if ($c["warnings"] != "-") warn = warn "warning (" $c["per_room"] " people, " $c["viewers_per_room"] " viewers): " $c["warnings"] "\n"
} END { printf "%s", warn }' "$work/runs.tsv"
if [ -n "${KEEP:-}" ]; then echo "reports and server logs in $work"; fi
