# Sourced by the live-room benchmarks: builds $MCU (unless NOBUILD is set),
# makes the work directory (KEEP names one to keep), runs `$MCU serve` on a
# free loopback port per scenario, and prints tables from the load
# generator's TSV. Expects MCU, QUALITY and FPS to be set; CODEC (the live
# codec) defaults to auto. The server checks access tokens, and the load
# generator signs its clients' with the same key: a throw-away one unless
# MCU_KEYS is set.
[ -n "${NOBUILD:-}" ] || go build -o "$MCU" ./cmd/mcu
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
MCU_KEYS=${MCU_KEYS:-$("$MCU" keys)}
export MCU_KEYS
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME: starts $MCU serve on a free loopback port, logging to
# $work/NAME.server.log; sets server_pid and server_url.
start_server() {
  local log="$work/$1.server.log"
  "$MCU" serve -http 127.0.0.1:0 -quality "$QUALITY" -fps "$FPS" -codec "${CODEC:-auto}" 2>"$log" &
  server_pid=$!
  for _ in $(seq 100); do
    server_url=$(sed -n 's/.*msg=serving url=http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)
    [ -n "$server_url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$(basename "$0"): the server did not start:" >&2; cat "$log" >&2; exit 1
}

# table FILE PROGRAM: runs the awk PROGRAM over the TSV rows of FILE with
# the columns by name in c["name"].
table() {
  awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } '"$2" "$1"
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
