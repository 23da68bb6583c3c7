#!/usr/bin/env bash
# Proxy overhead: sysbench oltp_read_only and oltp_read_write, direct to
# MariaDB vs through ghostwire, alternating A B A B in one run, printing QPS,
# p95 latency and the proxy/direct ratio for each workload.
#
#   bench/proxy_overhead.sh            # defaults: 8 threads, 20 s per run, 2 rounds
#   THREADS=16 SECONDS_PER_RUN=30 ROUNDS=3 bench/proxy_overhead.sh
#
# Starts its own MariaDB (port 3407) and ghostwire (port 6433) under a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
THREADS="${THREADS:-8}"
SECS="${SECONDS_PER_RUN:-20}"
ROUNDS="${ROUNDS:-2}"
DB_PORT="${DB_PORT:-3407}"
GW_PORT="${GW_PORT:-6433}"
WORKERS="${WORKERS:-0}"
dir="$(mktemp -d /tmp/ghostwire-bench.XXXXXX)"
cleanup() { kill "${gw_pid:-}" "${db_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" \
  --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
printf '%s\n' "CREATE USER 'sb'@'%' IDENTIFIED BY 'sb';" "GRANT ALL ON *.* TO 'sb'@'%';" "CREATE DATABASE sbtest;" >"$dir/init.sql"
mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --port="$DB_PORT" --bind-address=127.0.0.1 \
  --socket="$dir/sock" --log-bin="$dir/data/binlog" --binlog-format=ROW --server-id=1 \
  --init-file="$dir/init.sql" --log-error="$dir/err.log" --max-connections=500 \
  --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 &
db_pid=$!
for _ in $(seq 1 150); do mariadb --protocol=TCP -h127.0.0.1 -P"$DB_PORT" -usb -psb -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done

cargo build --release --quiet
cat >"$dir/proxy.toml" <<TOML
[listen]
addr = "127.0.0.1:$GW_PORT"
[backend]
addr = "127.0.0.1:$DB_PORT"
password = "unused"
[runtime]
worker_threads = $WORKERS
TOML
GHOSTWIRE_LOG=warn target/release/ghostwire serve --config "$dir/proxy.toml" &
gw_pid=$!

sb() { # workload port args...
  local w=$1 port=$2; shift 2
  sysbench "$w" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=sb \
    --mysql-password=sb --mysql-db=sbtest --tables=4 --table-size=20000 "$@"
}
sb oltp_read_write "$DB_PORT" --threads=4 prepare >/dev/null

echo "sysbench, $THREADS threads, ${SECS}s per run, $ROUNDS rounds, $(nproc) cores, ghostwire workers=$WORKERS"
printf '%-16s %-7s %10s %9s\n' workload target qps p95_ms
for w in oltp_read_only oltp_read_write; do
  declare -A qps=() p95=()
  for round in $(seq 1 "$ROUNDS"); do
    for target in direct proxy; do
      port=$DB_PORT; [ "$target" = proxy ] && port=$GW_PORT
      out=$(sb "$w" "$port" --threads="$THREADS" --time="$SECS" --report-interval=0 run)
      q=$(awk '/queries:/ {gsub(/\(/,"",$3); print $3}' <<<"$out")
      p=$(awk '/95th percentile:/ {print $3}' <<<"$out")
      printf '%-16s %-7s %10.0f %9s\n' "$w" "$target" "$q" "$p"
      qps[$target]="${qps[$target]:-} $q"
      p95[$target]="${p95[$target]:-} $p"
    done
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x); split(b, y); for (i = 1; i <= n; i++) { sa += x[i]; sb += y[i] } printf "%.2f", sa / sb }'; }
  printf '%-16s ratio proxy/direct: qps %sx, p95 %sx\n' "$w" "$(ratio "${qps[proxy]}" "${qps[direct]}")" "$(ratio "${p95[proxy]}" "${p95[direct]}")"
  unset qps p95
done
