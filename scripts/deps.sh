#!/usr/bin/env bash
# Installs what building and testing the MCU needs on Debian/Ubuntu, skipping
# whatever is already present: the FFmpeg 5.1 development libraries, ffmpeg and
# ffprobe (the judges of every file we write), pkg-config, and Chromium and
# Firefox ESR for the browser tests. Run as root or with sudo available.
set -euo pipefail

pkgs=(pkg-config libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev
      libswscale-dev libswresample-dev libavdevice-dev ffmpeg)
if [ "${1:-}" != "--no-browser" ]; then
  # fonts-noto-cjk: the screenshots of the Chinese page show characters.
  pkgs+=(chromium firefox-esr fonts-noto-cjk)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
