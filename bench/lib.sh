# Shared by the migration benchmarks (sourced, not run): a private MariaDB
# with ROW binlog, ghostwire instances in front of it, a seed table, and
# run_tool, which runs one ALTER tool under the modelled write load
# (examples/loadgen.rs) and prints its figures.
#
# Expects: ROWS RATE LOAD_CONNS DB_PORT ALTER, and $dir (a temp dir).

sql() { mariadb --protocol=TCP -h127.0.0.1 -P"$DB_PORT" -uapp -papp -N -B bench "$@"; }
now() { date +%s.%N; }

start_mariadb() {
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
  for _ in $(seq 1 150); do sql -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
}

# start_ghostwire PORT [extra toml]: one ghostwire in front of the server.
start_ghostwire() {
  local port=$1 extra=${2:-}
  cat >"$dir/proxy.$port.toml" <<TOML
[listen]
addr = "127.0.0.1:$port"
[backend]
addr = "127.0.0.1:$DB_PORT"
user = "ghostwire"
password = "gw"
$extra
TOML
  # Stages and throttle changes go to a log, for bench/worst_at.py.
  GHOSTWIRE_LOG="warn,ghostwire::migration::runner=debug,ghostwire::throttle=info" \
    "${GHOSTWIRE_BIN:-${CARGO_TARGET_DIR:-target}/release/ghostwire}" serve --config "$dir/proxy.$port.toml" \
    >"$dir/gw.$port.log" 2>&1 &
  gw_pids="${gw_pids:-} $!"
  for _ in $(seq 1 100); do
    mariadb --protocol=TCP -h127.0.0.1 -P"$port" -uapp -papp -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
}

# The seed table: id, k = id*7919 % 1000, c = 'row-<id>' (what loadgen assumes).
build_seed() {
  sql -e "CREATE TABLE seed (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL,
    pad CHAR(120) NOT NULL DEFAULT 'ghostwire-benchmark-padding') ENGINE=InnoDB; INSERT INTO seed (id, k, c) VALUES (1, 0, '')"
  while [ "$(sql -e 'SELECT MAX(id) FROM seed')" -lt "$ROWS" ]; do
    local max
    max=$(sql -e 'SELECT MAX(id) FROM seed')
    sql -e "INSERT INTO seed (id, k, c) SELECT id + $max, 0, '' FROM seed WHERE id <= $ROWS - $max"
  done
  sql -e "UPDATE seed SET k = (id * 7919) % 1000, c = CONCAT('row-', id)"
}

reset_table() {
  # Old tables ghostwire kept (t_<id>_del) go too.
  local old
  old=$(sql -e "SELECT GROUP_CONCAT(TABLE_NAME) FROM information_schema.TABLES
    WHERE TABLE_SCHEMA = 'bench' AND TABLE_NAME LIKE 't\\_%\\_del'")
  [ "$old" = NULL ] || sql -e "DROP TABLE IF EXISTS $old"
  sql -e "DROP TABLE IF EXISTS t, t_gho, _t_old, _t_new; CREATE TABLE t LIKE seed; INSERT INTO t SELECT * FROM seed"
  settle
}

# settle: waits (up to 60 s) until InnoDB has written back the pages the
# previous step dirtied, so every tool's baseline and run start from the
# same quiet server (a fresh 1M-row copy otherwise flushes for seconds into
# the next baseline and puts 10-25 ms stalls into it).
settle() {
  local was
  was=$(sql -e "SELECT CONCAT('innodb_io_capacity = ', @@innodb_io_capacity, ', innodb_io_capacity_max = ',
    @@innodb_io_capacity_max, ', innodb_max_dirty_pages_pct = ', @@innodb_max_dirty_pages_pct)")
  sql -e "SET GLOBAL innodb_io_capacity_max = 20000, innodb_io_capacity = 20000, innodb_max_dirty_pages_pct = 0"
  local dirty
  for _ in $(seq 1 600); do
    dirty=$(sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | awk '{ print $2 }')
    [ "${dirty:-0}" -lt 64 ] && break
    sleep 0.1
  done
  sql -e "SET GLOBAL $was"
}

# run_tool NAME LOAD_PORT COMMAND…: the load starts, 5 s baseline, the tool
# runs, 2 s after; prints rows/s, the load's p99/worst latency before and
# during, errors, and the check of the table against the load's model.
run_tool() {
  local name=$1 port=$2; shift 2
  reset_table
  local fifo="$dir/phases.${name// /_}" out="$dir/load.${name// /_}" tool="$dir/tool.${name// /_}"
  rm -f "$fifo"; mkfifo "$fifo"
  LOADGEN_SLOWEST=3 "${CARGO_TARGET_DIR:-target}/release/examples/loadgen" "mysql://app:app@127.0.0.1:$port/bench" "$ROWS" "$RATE" "$LOAD_CONNS" \
    <"$fifo" >"$out" 2>"$out.err" &
  local load_pid=$!
  exec 7>"$fifo"
  echo "phase baseline" >&7
  sleep 5
  echo "phase during" >&7
  local a b
  a=$(now); "$@" >"$tool" 2>&1 || echo "(tool failed)" >>"$tool"; b=$(now)
  echo "phase after" >&7
  sleep 2
  exec 7>&-
  wait "$load_pid" || true
  local rps fields
  rps=$(awk -v r="$ROWS" -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", r / (b - a) }')
  fields() { awk -v p="$1" '$1 == "phase=" p { for (i=2;i<=NF;i++) if ($i ~ /^(p99_ms|max_ms)=/) printf "%s ", $i }' "$out"; }
  printf '%-24s %9s rows/s | baseline %s| during %s| errors %s | checksum %s\n' "$name" "$rps" \
    "$(fields baseline)" "$(fields during)" \
    "$(awk -F'errors=' '/^phase=/ { split($2, e, " "); s += e[1] } END { print s + 0 }' "$out")" \
    "$(awk -F'mismatches=' '/^verify/ { print ($2 == 0 ? "ok" : "MISMATCH(" $2 ")") }' "$out")"
  if grep -q "tool failed" "$tool"; then tail -5 "$tool"; fi
  if [ -f "$dir/gw.$port.log" ]; then bench/worst_at.py "$out" "$dir/gw.$port.log" 3 "$a"; fi
  last_rps=$rps last_start=$a last_end=$b
  last_base_max=$(fields baseline | sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p')
  last_during_max=$(fields during | sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p')
}
