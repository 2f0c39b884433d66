#!/usr/bin/env bash
# Installs what building and testing the MCU needs on Debian/Ubuntu, skipping
# whatever is already present: the FFmpeg 5.1 development libraries, ffmpeg and
# ffprobe (the judges of every file we write), pkg-config, the fonts names on
# tiles are drawn with (Noto CJK covers Chinese, Japanese, Korean, Cyrillic and
# Latin; DejaVu is the fallback) with fontconfig to find them, redis-server
# (the cluster tests start their own on a loopback port), Chromium and
# Firefox ESR for the browser tests, and the reference WHIP/WHEP JavaScript
# clients (npm package whip-whep) that the browser tests run, fetched with npm
# into the ignored folder third_party_npm/. Run as root or with sudo available.
set -euo pipefail

pkgs=(pkg-config libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev
      libswscale-dev libswresample-dev libavdevice-dev ffmpeg
      fontconfig fonts-noto-cjk fonts-dejavu-core redis-server)
browser=1
if [ "${1:-}" = "--no-browser" ]; then
  browser=0
fi
if [ $browser = 1 ]; then
  # fonts-noto-cjk: the screenshots of the Chinese page show characters.
  pkgs+=(chromium firefox-esr fonts-noto-cjk)
  if ! command -v npm >/dev/null; then
    pkgs+=(npm)
  fi
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

npm_dir="$(cd "$(dirname "$0")/.." && pwd)/third_party_npm"
if [ $browser = 1 ] && [ ! -f "$npm_dir/node_modules/whip-whep/whip.js" ]; then
  echo "deps: installing the npm package whip-whep@1.2.0 into $npm_dir" >&2
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && npm install --no-audit --no-fund --no-save --silent whip-whep@1.2.0 >&2)
fi
