#!/usr/bin/env bash
# Online ALTER: ghostwire vs pt-online-schema-change vs native ALTER TABLE …
# ALGORITHM=COPY, on the same table under the same rate-limited write load,
# plus the plain INSERT … SELECT copy ceiling, all measured in one run.
#
#   bench/migration.sh                     # defaults: 1M rows, 2000 ops/s, 4 load connections
#   ROWS=2000000 RATE=5000 bench/migration.sh
#   LOADGEN_TX=1 RATE=200 LOAD_CONNS=8 bench/migration.sh   # sysbench-shaped transactions
#   RUNS=5 ONLY_GHOSTWIRE=1 bench/migration.sh                # the throttle pair only, 5 times
#
# For each tool it prints rows/s, the load's p99 and worst latency while the
# tool ran (and before, as the baseline), load errors, and whether the table
# afterwards equals the load's own model (nothing lost, nothing changed).
# The load of a ghostwire run goes through that ghostwire, as an
# application's would; the other tools' load goes to the server.
# For ghostwire it also prints the worst binlog lag seen in SHOW MIGRATIONS.
# The client-latency throttle ([throttle] max_client_p99_factor = 2) is
# measured against the same ghostwire without it, RUNS times in turn (the
# worst latency of one run is a single sample, so one pair says little):
# each run's worst during / worst before, and the copy speed with / without.
# With LOADGEN_TX=1 each load operation is a transaction shaped like
# sysbench's oltp_read_write (ten point selects, two updates, a delete and
# an insert) and its latency is the transaction's.
# Every tool starts on a settled server (dirty pages written back).
# Starts its own MariaDB (port 3408) and ghostwires (ports 6434, 6444, 6454)
# under a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
command -v pt-online-schema-change >/dev/null || apt-get install -y -q percona-toolkit >/dev/null
ROWS="${ROWS:-1000000}"
RATE="${RATE:-2000}"
LOAD_CONNS="${LOAD_CONNS:-4}"
RUNS="${RUNS:-3}"
DB_PORT="${DB_PORT:-3408}"
GW_PORT="${GW_PORT:-6434}"
ALTER="ADD COLUMN extra INT NOT NULL DEFAULT 7, ADD INDEX k_idx (k)"
dir="$(mktemp -d /tmp/ghostwire-mbench.XXXXXX)"
cleanup() { kill ${gw_pids:-} "${db_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
. bench/lib.sh

start_mariadb
cargo build --release --quiet --bin ghostwire --example loadgen
start_ghostwire "$GW_PORT"
NOCHECK_PORT=$((GW_PORT + 10))
start_ghostwire "$NOCHECK_PORT" "[migrations]
checksum = false"
THROTTLE_PORT=$((GW_PORT + 20))
start_ghostwire "$THROTTLE_PORT" "[throttle]
max_client_p99_factor = 2.0"
echo "building the seed table ($ROWS rows)"
build_seed

# The copy ceiling: one INSERT … SELECT into an altered empty copy, no load.
reset_table
sql -e "CREATE TABLE ceiling LIKE t; ALTER TABLE ceiling $ALTER"
t0=$(now); sql -e "INSERT INTO ceiling (id, k, c, pad) SELECT id, k, c, pad FROM t"; t1=$(now)
ceiling=$(awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }')
sql -e "DROP TABLE ceiling"
ratio() { awk -v a="$last_rps" -v c="$ceiling" 'BEGIN { printf "%.2f", a / c }'; }

# ghostwire_alter [PORT]: the ALTER through a ghostwire (default $GW_PORT).
ghostwire_alter() {
  local port=${1:-$GW_PORT}
  # Samples lag while the (synchronous) ALTER runs through the proxy. The
  # sampler must not hold the load's phase pipe (fd 7) open.
  (
    exec 7>&-
    while sleep 0.5; do
      v=$(mariadb --protocol=TCP -h127.0.0.1 -P"$GW_PORT" -uapp -papp -N -B -e \
        "SELECT lag_seconds FROM _ghostwire.migrations WHERE status IN ('running','cutting_over')" 2>/dev/null)
      [ -n "$v" ] && [ "$v" != NULL ] && echo "$v"
    done >"$dir/lag"
  ) &
  local sampler=$!
  mariadb --protocol=TCP -h127.0.0.1 -P"$port" -uapp -papp bench -e "ALTER TABLE t $ALTER"
  kill "$sampler" 2>/dev/null || true
}

echo "$ROWS rows, load $RATE ops/s on $LOAD_CONNS connections, $(nproc) cores; ALTER: $ALTER"
echo "plain INSERT … SELECT ceiling: $ceiling rows/s"
# ratio A B: A / B to two places.
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: >"$dir/pairs"
for run in $(seq 1 "$RUNS"); do
  run_tool "ghostwire" "$GW_PORT" ghostwire_alter
  echo "  ghostwire: $(ratio)x the INSERT…SELECT ceiling; worst binlog lag $(sort -g "$dir/lag" | tail -1 | grep . || echo "n/a (no sample)") s; $(sql -e "SELECT message FROM _ghostwire.migrations ORDER BY created_at DESC LIMIT 1")"
  off=("$last_rps" "$last_base_max" "$last_during_max")
  run_tool "ghostwire, latency throttle" "$THROTTLE_PORT" ghostwire_alter "$THROTTLE_PORT"
  echo "  run $run of $RUNS: worst during / worst before: $(ratio_of "${off[2]}" "${off[1]}")x without the throttle," \
    "$(ratio_of "$last_during_max" "$last_base_max")x with it; copy speed with it $(ratio_of "$last_rps" "${off[0]}")x without"
  echo "${off[1]} ${off[2]} $last_base_max $last_during_max $(ratio_of "$last_rps" "${off[0]}")" >>"$dir/pairs"
done
# Against the median worst before (all runs, both ghostwires): a steadier
# reference than one run's own baseline.
base=$(cut -d' ' -f1,3 "$dir/pairs" | tr ' ' '\n' | median)
off_med=$(cut -d' ' -f2 "$dir/pairs" | median) on_med=$(cut -d' ' -f4 "$dir/pairs" | median)
echo "  latency throttle, $RUNS runs: median worst before ${base} ms; median worst during ${off_med} ms without" \
  "($(ratio_of "$off_med" "$base")x), ${on_med} ms with it ($(ratio_of "$on_med" "$base")x; runs: $(cut -d' ' -f4 "$dir/pairs" | tr '\n' ' ')ms);" \
  "copy speed with it $(cut -d' ' -f5 "$dir/pairs" | median)x without (median)"
[ -n "${ONLY_GHOSTWIRE:-}" ] && exit 0
run_tool "ghostwire, no checksum" "$NOCHECK_PORT" ghostwire_alter "$NOCHECK_PORT"
echo "  ghostwire without the pre-cut-over checksum: $(ratio)x the ceiling"
run_tool pt-online-schema-change "$DB_PORT" pt-online-schema-change --alter "$ALTER" \
  "D=bench,t=t,h=127.0.0.1,P=$DB_PORT,u=app,p=app" --execute --no-drop-old-table \
  --recursion-method=none --chunk-time=0.5 --no-check-unique-key-change
echo "  pt-online-schema-change: $(ratio)x the ceiling"
run_tool "native ALTER (COPY)" "$DB_PORT" sql -e "ALTER TABLE t $ALTER, ALGORITHM=COPY"
echo "  native ALTER: $(ratio)x the ceiling (server-internal copy; blocks writes throughout)"
# The old table's background drop: a plain DROP TABLE of a table this size,
# under the same load (its "rows/s" is the table's rows over the drop time).
sql -e "DROP TABLE IF EXISTS big_old; CREATE TABLE big_old LIKE seed; INSERT INTO big_old SELECT * FROM seed"
run_tool "DROP TABLE (old table)" "$GW_PORT" sql -e "DROP TABLE big_old"
echo "  the load's latency while ghostwire's background drop would run (plain DROP TABLE)"
