#!/usr/bin/env bash
# Online ALTER: ghostwire vs pt-online-schema-change vs native ALTER TABLE …
# ALGORITHM=COPY, on the same table under the same rate-limited write load,
# plus the plain INSERT … SELECT copy ceiling, all measured in one run.
#
#   bench/migration.sh                     # defaults: 1M rows, 2000 ops/s, 4 load connections
#   ROWS=2000000 RATE=5000 bench/migration.sh
#
# For each tool it prints rows/s, the load's p99 and worst latency while the
# tool ran (and before, as the baseline), load errors, and whether the table
# afterwards equals the load's own model (nothing lost, nothing changed).
# For ghostwire it also prints the worst binlog lag seen in SHOW MIGRATIONS.
# Starts its own MariaDB (port 3408) and ghostwire (port 6434) under a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
command -v pt-online-schema-change >/dev/null || apt-get install -y -q percona-toolkit >/dev/null
ROWS="${ROWS:-1000000}"
RATE="${RATE:-2000}"
LOAD_CONNS="${LOAD_CONNS:-4}"
DB_PORT="${DB_PORT:-3408}"
GW_PORT="${GW_PORT:-6434}"
ALTER="ADD COLUMN extra INT NOT NULL DEFAULT 7, ADD INDEX k_idx (k)"
dir="$(mktemp -d /tmp/ghostwire-mbench.XXXXXX)"
cleanup() { kill "${gw_pid:-}" "${db_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" \
  --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
printf '%s\n' "CREATE USER 'app'@'%' IDENTIFIED BY 'app';" "GRANT ALL ON *.* TO 'app'@'%';" \
  "CREATE USER 'ghostwire'@'%' IDENTIFIED BY 'gw';" "GRANT ALL ON *.* TO 'ghostwire'@'%';" \
  "CREATE DATABASE bench;" >"$dir/init.sql"
mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --port="$DB_PORT" --bind-address=127.0.0.1 \
  --socket="$dir/sock" --log-bin="$dir/data/binlog" --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
  --init-file="$dir/init.sql" --log-error="$dir/err.log" --max-connections=500 \
  --innodb-buffer-pool-size=2G --innodb-log-file-size=1G --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 &
db_pid=$!
sql() { mariadb --protocol=TCP -h127.0.0.1 -P"$DB_PORT" -uapp -papp -N -B bench "$@"; }
for _ in $(seq 1 150); do sql -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done

cargo build --release --quiet --bin ghostwire --example loadgen
cat >"$dir/proxy.toml" <<TOML
[listen]
addr = "127.0.0.1:$GW_PORT"
[backend]
addr = "127.0.0.1:$DB_PORT"
user = "ghostwire"
password = "gw"
TOML
GHOSTWIRE_LOG=warn target/release/ghostwire serve --config "$dir/proxy.toml" &
gw_pid=$!

echo "building the seed table ($ROWS rows)"
sql -e "CREATE TABLE seed (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL,
  pad CHAR(120) NOT NULL DEFAULT 'ghostwire-benchmark-padding') ENGINE=InnoDB; INSERT INTO seed (id, k, c) VALUES (1, 0, '')"
while [ "$(sql -e 'SELECT MAX(id) FROM seed')" -lt "$ROWS" ]; do
  max=$(sql -e 'SELECT MAX(id) FROM seed')
  sql -e "INSERT INTO seed (id, k, c) SELECT id + $max, 0, '' FROM seed WHERE id <= $ROWS - $max"
done
sql -e "UPDATE seed SET k = (id * 7919) % 1000, c = CONCAT('row-', id)"

reset_table() {
  sql -e "DROP TABLE IF EXISTS t, t_del, t_gho, _t_old, _t_new; CREATE TABLE t LIKE seed; INSERT INTO t SELECT * FROM seed"
}
now() { date +%s.%N; }

# The copy ceiling: one INSERT … SELECT into an altered empty copy, no load.
reset_table
sql -e "CREATE TABLE ceiling LIKE t; ALTER TABLE ceiling $ALTER"
t0=$(now); sql -e "INSERT INTO ceiling (id, k, c, pad) SELECT id, k, c, pad FROM t"; t1=$(now)
ceiling=$(awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }')
sql -e "DROP TABLE ceiling"

# run_tool NAME LOAD_PORT COMMAND…: load starts, 5 s baseline, the tool, 2 s after.
run_tool() {
  local name=$1 port=$2; shift 2
  reset_table
  local fifo="$dir/phases.$name"
  mkfifo "$fifo"
  target/release/examples/loadgen "mysql://app:app@127.0.0.1:$port/bench" "$ROWS" "$RATE" "$LOAD_CONNS" \
    <"$fifo" >"$dir/load.$name" 2>"$dir/load.$name.err" &
  local load_pid=$!
  exec 7>"$fifo"
  echo "phase baseline" >&7
  sleep 5
  echo "phase during" >&7
  local a b
  a=$(now); "$@" >"$dir/tool.$name" 2>&1 || echo "(tool failed: see below)" >>"$dir/tool.$name"; b=$(now)
  echo "phase after" >&7
  sleep 2
  exec 7>&-
  wait "$load_pid" || true
  local rps base during errors verify
  rps=$(awk -v r="$ROWS" -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", r / (b - a) }')
  base=$(awk '/^phase=baseline/ { for (i=1;i<=NF;i++) if ($i ~ /^(p99_ms|max_ms)=/) printf "%s ", $i }' "$dir/load.$name")
  during=$(awk '/^phase=during/ { for (i=1;i<=NF;i++) if ($i ~ /^(p99_ms|max_ms)=/) printf "%s ", $i }' "$dir/load.$name")
  errors=$(awk -F'errors=' '/^phase=/ { split($2, e, " "); s += e[1] } END { print s + 0 }' "$dir/load.$name")
  verify=$(awk -F'mismatches=' '/^verify/ { print ($2 == 0 ? "ok" : "MISMATCH(" $2 ")") }' "$dir/load.$name")
  printf '%-22s %9s rows/s %5.2fx ceiling | baseline %s| during %s| errors %s | checksum %s\n' \
    "$name" "$rps" "$(awk -v a="$rps" -v c="$ceiling" 'BEGIN { print a / c }')" "$base" "$during" "$errors" "$verify"
  if grep -q "tool failed" "$dir/tool.$name"; then tail -5 "$dir/tool.$name"; fi
}

ghostwire_alter() {
  # Samples lag while the (synchronous) ALTER runs through the proxy.
  (while sleep 0.5; do
     mariadb --protocol=TCP -h127.0.0.1 -P"$GW_PORT" -uapp -papp -N -B -e \
       "SELECT lag_seconds FROM _ghostwire.migrations WHERE status IN ('running','cutting_over')" 2>/dev/null
   done) >"$dir/lag" &
  local sampler=$!
  mariadb --protocol=TCP -h127.0.0.1 -P"$GW_PORT" -uapp -papp bench -e "ALTER TABLE t $ALTER"
  kill "$sampler" 2>/dev/null || true
}

echo "$ROWS rows, load $RATE ops/s on $LOAD_CONNS connections, $(nproc) cores; ALTER: $ALTER"
echo "plain INSERT … SELECT ceiling: $ceiling rows/s"
run_tool ghostwire "$GW_PORT" ghostwire_alter
echo "  ghostwire: worst binlog lag $(sort -g "$dir/lag" | tail -1) s; $(sql -e "SELECT message FROM _ghostwire.migrations ORDER BY created_at DESC LIMIT 1")"
run_tool pt-online-schema-change "$DB_PORT" pt-online-schema-change --alter "$ALTER" \
  "D=bench,t=t,h=127.0.0.1,P=$DB_PORT,u=app,p=app" --execute --no-drop-old-table \
  --recursion-method=none --chunk-time=0.5 --no-check-unique-key-change
run_tool "native ALTER (COPY)" "$DB_PORT" sql -e "ALTER TABLE t $ALTER, ALGORITHM=COPY"
