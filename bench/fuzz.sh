#!/usr/bin/env bash
# Fuzzes each target for SECONDS (default 60) one after the other and says
# which found a failing input. Found inputs are written by Go to the
# package's testdata/fuzz/<Target>/ and then run in every "go test"; the
# coverage corpus grown meanwhile stays in $(go env GOCACHE)/fuzz. New inputs
# are minimized for at most 3 s (Go's default, 60 s, spends whole short runs
# shrinking the first large SDP it finds).
#
#   bash bench/fuzz.sh 60
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
targets=(
	"./signaling FuzzHandleMessages"
	"./mcu FuzzOffer"
	"./mcu FuzzFramer"
)
failed=()
logs=$(mktemp -d)
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "== $name ($pkg) for ${secs}s"
	# The whole output (a worker's panic included) stays in $logs.
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" -fuzzminimizetime 3s -parallel 2 "$pkg" 2>&1 |
		tee "$logs/$name.log" | grep -v '^fuzz: elapsed' | tail -n 20; then
		failed+=("$name")
		echo "   full output: $logs/$name.log"
	fi
	grep '^fuzz: elapsed' "$logs/$name.log" | tail -n 1
	# A summary line of what the corpus holds now.
	n=$(ls "$(go env GOCACHE)/fuzz/github.com/mcu-dev/mcu/${pkg#./}/$name" 2>/dev/null | wc -l)
	echo "   corpus: $n generated inputs"
done
if ((${#failed[@]})); then
	echo "FAILING: ${failed[*]} (see testdata/fuzz/ in their packages)"
	exit 1
fi
echo "no failures"
