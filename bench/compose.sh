#!/usr/bin/env bash
# Compares the CPU cost of `mcu compose` with the equivalent ffmpeg CLI
# pipeline (scale + xstack + amix) on the same four 640x480 30 fps 20 s inputs
# into 720p30 WebM, with the same bitstream settings: libvpx realtime,
# cpu-used 8, 2 Mb/s, keyframe every 60 frames, libopus. Runs are paired
# (ours, then ffmpeg, ROUNDS times) because the CPU time of a shared machine
# drifts; it prints the ratio of the summed CPU seconds.
#
#   bench/compose.sh [ROUNDS]     (default 3; needs bin/mcu: make build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MCU=${MCU:-bin/mcu}
THREADS=${THREADS:-1}
[ -x "$MCU" ] || go build -o "$MCU" ./cmd/mcu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

colors=(red green blue yellow)
freqs=(300 500 700 900)
for i in 0 1 2 3; do
  ffmpeg -hide_banner -v error -y \
    -f lavfi -i "testsrc2=s=640x480:r=30:d=20,drawbox=c=${colors[$i]}@0.5:t=fill" \
    -f lavfi -i "sine=f=${freqs[$i]}:d=20:sample_rate=48000" \
    -c:v libvpx -deadline realtime -cpu-used 8 -b:v 1M -c:a libopus "$work/in$i.webm"
done

# cpu_seconds CMD... : user+system CPU seconds of CMD and its children.
cpu_seconds() {
  /usr/bin/env time -f "%U %S" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  awk '{printf "%.2f\n", $1+$2}' "$work/time"
}

ours=0; theirs=0
for r in $(seq "$ROUNDS"); do
  a=$(cpu_seconds "$MCU" compose -o "$work/ours.webm" -quality 720p -fps 30 -threads "$THREADS" \
      "$work/in0.webm" "$work/in1.webm" "$work/in2.webm" "$work/in3.webm")
  b=$(cpu_seconds ffmpeg -hide_banner -v error -y \
      -i "$work/in0.webm" -i "$work/in1.webm" -i "$work/in2.webm" -i "$work/in3.webm" \
      -filter_complex "[0:v]scale=480:360,pad=640:360:80:0[v0];[1:v]scale=480:360,pad=640:360:80:0[v1];[2:v]scale=480:360,pad=640:360:80:0[v2];[3:v]scale=480:360,pad=640:360:80:0[v3];[v0][v1][v2][v3]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,fps=30[v];[0:a][1:a][2:a][3:a]amix=inputs=4[a]" \
      -map "[v]" -map "[a]" -c:v libvpx -deadline realtime -cpu-used 8 -b:v 2M -g 60 -threads 2 \
      -c:a libopus -ac 1 "$work/ffmpeg.webm")
  echo "round $r: mcu ${a}s  ffmpeg ${b}s"
  ours=$(echo "$ours + $a" | bc); theirs=$(echo "$theirs + $b" | bc)
done
br() { ffprobe -v error -select_streams v:0 -show_entries format=bit_rate -of csv=p=0 "$1"; }
echo "cpu seconds: mcu $ours, ffmpeg $theirs over $ROUNDS rounds (mcu encoder threads: $THREADS, ffmpeg -threads 2)"
echo "cpu ratio (mcu / ffmpeg): $(echo "scale=3; $ours / $theirs" | bc)"
echo "output bitrate: mcu $(br "$work/ours.webm") b/s, ffmpeg $(br "$work/ffmpeg.webm") b/s"
