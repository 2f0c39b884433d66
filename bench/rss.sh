#!/usr/bin/env bash
# Checks that `mcu compose` does not leak over a long job: composes two
# 10-minute inputs (320x240 15 fps VP8 + Opus) into 360p15 WebM and samples
# the process's resident memory every second. Prints RSS at 10%, 50% and
# 100% of the run and the growth between 10% and the end.
#
#   bench/rss.sh [MINUTES]     (default 10; needs bin/mcu: make build)
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${1:-10}
MCU=${MCU:-bin/mcu}
[ -x "$MCU" ] || go build -o "$MCU" ./cmd/mcu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secs=$((MIN * 60))
for c in red blue; do
  ffmpeg -hide_banner -v error -y -f lavfi -i "testsrc2=s=320x240:r=15:d=$secs,drawbox=c=$c@0.4:t=fill" \
    -f lavfi -i "sine=f=440:d=$secs" -c:v libvpx -deadline realtime -cpu-used 8 -b:v 200k -c:a libopus "$work/$c.webm"
done
"$MCU" compose -o "$work/out.webm" -quality 360p -fps 15 "$work/red.webm" "$work/blue.webm" 2>"$work/log" &
pid=$!
: >"$work/rss"
while kill -0 "$pid" 2>/dev/null; do
  awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null >>"$work/rss" || true
  sleep 1
done
wait "$pid"
tail -1 "$work/log"
n=$(wc -l <"$work/rss")
at() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$work/rss"; }
r10=$(at 10); r50=$(at 50); r100=$(sed -n "$((n - 1))p" "$work/rss")
echo "samples: $n  RSS kB at 10%: $r10  50%: $r50  end: $r100  max: $(sort -n "$work/rss" | tail -1)"
echo "growth from 10% to end: $(( (r100 - r10) / 1024 )) MiB"
