#!/usr/bin/env bash
# What the pre-cut-over checksum costs for an ALTER that converts a column:
# the same ALTER through a ghostwire with `[migrations] checksum = true` and
# one with `checksum = false`, RUNS times each, alternating, on a fresh copy
# of the seed table, no write load. Prints each run's seconds, the medians,
# and the checksum's cost (median on - median off).
#
#   bench/checksum.sh                      # defaults: 200000 rows, 3 runs
#   ROWS=1000000 RUNS=5 bench/checksum.sh
#
# GHOSTWIRE_BIN=path runs that binary instead of building this tree (to
# compare two versions). Starts its own MariaDB (port 3418) and ghostwires
# (ports 6444, 6454) under a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-200000}"
RUNS="${RUNS:-3}"
RATE=0
LOAD_CONNS=0
DB_PORT="${DB_PORT:-3418}"
GW_PORT="${GW_PORT:-6444}"
ALTER="${ALTER:-MODIFY c VARCHAR(150) NOT NULL, MODIFY k BIGINT NOT NULL, FORCE}"
dir="$(mktemp -d /tmp/ghostwire-cbench.XXXXXX)"
cleanup() { kill ${gw_pids:-} "${db_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
. bench/lib.sh

start_mariadb
[ -n "${GHOSTWIRE_BIN:-}" ] || cargo build --release --quiet --bin ghostwire
OFF_PORT=$((GW_PORT + 10))
start_ghostwire "$GW_PORT" "[migrations]
checksum = true"
start_ghostwire "$OFF_PORT" "[migrations]
checksum = false"
echo "building the seed table ($ROWS rows)"
build_seed

alter_secs() {
  reset_table
  local a b
  a=$(now)
  mariadb --protocol=TCP -h127.0.0.1 -P"$1" -uapp -papp bench -e "ALTER TABLE t $ALTER" >/dev/null
  b=$(now)
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }'
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

on="" off=""
for i in $(seq 1 "$RUNS"); do
  s=$(alter_secs "$GW_PORT"); on="$on $s"
  s=$(alter_secs "$OFF_PORT"); off="$off $s"
  echo "run $i: checksum on ${on##* } s, off ${off##* } s"
done
mon=$(echo "$on" | median)
moff=$(echo "$off" | median)
echo "ALTER TABLE t $ALTER, $ROWS rows"
echo "median: checksum on $mon s, off $moff s, checksum cost $(awk -v a="$mon" -v b="$moff" 'BEGIN { printf "%.3f", a - b }') s"
