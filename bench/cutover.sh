#!/usr/bin/env bash
# Cut-over stall as clients see it: a rate-limited write load through the
# proxy while an online ALTER runs, with the gate on and with it off, plus
# pt-online-schema-change on the same table, all in one run. For each: the
# load's p99 and worst statement latency while the ALTER ran (the worst is
# the cut-over), errors, and the check against the load's model.
#
#   bench/cutover.sh                       # defaults: 200k rows, 2000 ops/s, 8 load connections
#   ROWS=500000 RATE=4000 bench/cutover.sh
#
# Starts its own MariaDB (port 3409) and two ghostwires (6435 gate on, 6436 gate off).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
command -v pt-online-schema-change >/dev/null || apt-get install -y -q percona-toolkit >/dev/null
ROWS="${ROWS:-200000}"
RATE="${RATE:-2000}"
LOAD_CONNS="${LOAD_CONNS:-8}"
DB_PORT="${DB_PORT:-3409}"
ALTER="ADD COLUMN extra INT NOT NULL DEFAULT 7, ADD INDEX k_idx (k)"
dir="$(mktemp -d /tmp/ghostwire-cbench.XXXXXX)"
cleanup() { kill ${gw_pids:-} "${db_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
. bench/lib.sh

start_mariadb
cargo build --release --quiet --bin ghostwire --example loadgen
start_ghostwire 6435
start_ghostwire 6436 "[gate]
enabled = false"
echo "building the seed table ($ROWS rows)"
build_seed

alter_through() {
  mariadb --protocol=TCP -h127.0.0.1 -P"$1" -uapp -papp bench -e "ALTER TABLE t $ALTER"
}
stall() { sql -e "SELECT CONCAT('cut-over stall ', stall_ms, ' ms, attempts ', cutover_attempts) FROM _ghostwire.migrations ORDER BY created_at DESC LIMIT 1"; }

echo "$ROWS rows, load $RATE ops/s on $LOAD_CONNS connections, $(nproc) cores; ALTER: $ALTER"
run_tool "ghostwire, gate on" 6435 alter_through 6435
echo "  $(stall)"
run_tool "ghostwire, gate off" 6436 alter_through 6436
echo "  $(stall)"
run_tool pt-online-schema-change "$DB_PORT" pt-online-schema-change --alter "$ALTER" \
  "D=bench,t=t,h=127.0.0.1,P=$DB_PORT,u=app,p=app" --execute --no-drop-old-table \
  --recursion-method=none --chunk-time=0.5 --no-check-unique-key-change
