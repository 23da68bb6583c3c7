#!/usr/bin/env bash
# Proxy overhead: sysbench oltp_read_only and oltp_read_write, direct to
# MariaDB vs through ghostwire, alternating A B A B in one run, printing QPS,
# p95 latency and the proxy/direct ratio for each workload; then the same
# with TLS (direct TLS vs ghostwire with TLS on both sides), and the TLS
# handshake rate (connections/s, PyMySQL) direct vs through ghostwire.
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
cleanup() { kill ${gw_pid:-} "${db_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

# A CA and a certificate for 127.0.0.1 (the server's and ghostwire's).
tls="$dir/tls"; mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$tls/key.pem" -out "$tls/req.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/san.ext"
openssl x509 -req -in "$tls/req.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
  -CAcreateserial -days 2 -extfile "$tls/san.ext" -out "$tls/cert.pem" 2>/dev/null

mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" \
  --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
printf '%s\n' "CREATE USER 'sb'@'%' IDENTIFIED BY 'sb';" "GRANT ALL ON *.* TO 'sb'@'%';" "CREATE DATABASE sbtest;" >"$dir/init.sql"
mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --port="$DB_PORT" --bind-address=127.0.0.1 \
  --socket="$dir/sock" --log-bin="$dir/data/binlog" --binlog-format=ROW --server-id=1 \
  --init-file="$dir/init.sql" --log-error="$dir/err.log" --max-connections=500 \
  --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
  --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/cert.pem" --ssl-key="$tls/key.pem" &
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
GHOSTWIRE_LOG=warn "${CARGO_TARGET_DIR:-target}/release/ghostwire" serve --config "$dir/proxy.toml" &
gw_pid=$!
TLS_PORT=$((GW_PORT + 1))
cat >"$dir/proxy-tls.toml" <<TOML
[listen]
addr = "127.0.0.1:$TLS_PORT"
[listen.tls]
mode = "required"
cert = "$tls/cert.pem"
key = "$tls/key.pem"
[backend]
addr = "127.0.0.1:$DB_PORT"
password = "unused"
[backend.tls]
mode = "verify_identity"
ca = "$tls/ca.pem"
[runtime]
worker_threads = $WORKERS
TOML
GHOSTWIRE_LOG=warn "${CARGO_TARGET_DIR:-target}/release/ghostwire" serve --config "$dir/proxy-tls.toml" &
gw_pid="$gw_pid $!"
sleep 1

sb() { # workload port args...
  local w=$1 port=$2; shift 2
  sysbench "$w" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=sb \
    --mysql-password=sb --mysql-db=sbtest --tables=4 --table-size=20000 "$@"
}
sb oltp_read_write "$DB_PORT" --threads=4 prepare >/dev/null

echo "sysbench, $THREADS threads, ${SECS}s per run, $ROUNDS rounds, $(nproc) cores, ghostwire workers=$WORKERS"
printf '%-16s %-11s %10s %9s\n' workload target qps p95_ms
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x); split(b, y); for (i = 1; i <= n; i++) { sa += x[i]; sb += y[i] } printf "%.2f", sa / sb }'; }
# compare LABEL DIRECT_PORT PROXY_PORT [sysbench args]: alternating runs.
compare() {
  local label=$1 dport=$2 pport=$3; shift 3
  for w in oltp_read_only oltp_read_write; do
    declare -A qps=() p95=()
    for round in $(seq 1 "$ROUNDS"); do
      for target in direct proxy; do
        port=$dport; [ "$target" = proxy ] && port=$pport
        out=$(sb "$w" "$port" --threads="$THREADS" --time="$SECS" --report-interval=0 "$@" run 2>&1) \
          || { echo "sysbench failed on $target$label:"; tail -5 <<<"$out"; return 1; }
        q=$(awk '/queries:/ {gsub(/\(/,"",$3); print $3}' <<<"$out")
        p=$(awk '/95th percentile:/ {print $3}' <<<"$out")
        printf '%-16s %-11s %10.0f %9s\n' "$w" "$target$label" "$q" "$p"
        qps[$target]="${qps[$target]:-} $q"
        p95[$target]="${p95[$target]:-} $p"
      done
    done
    printf '%-16s ratio proxy/direct%s: qps %sx, p95 %sx\n' "$w" "$label" "$(ratio "${qps[proxy]}" "${qps[direct]}")" "$(ratio "${p95[proxy]}" "${p95[direct]}")"
    unset qps p95
  done
}
compare "" "$DB_PORT" "$GW_PORT"
# sysbench's --mysql-ssl reads client-key.pem, client-cert.pem and
# cacert.pem from the current directory.
cp "$tls/ca.pem" "$tls/cacert.pem"
cp "$tls/cert.pem" "$tls/client-cert.pem"
cp "$tls/key.pem" "$tls/client-key.pem"
(cd "$tls" && compare " TLS" "$DB_PORT" "$TLS_PORT" --mysql-ssl=on)

# TLS handshakes per second: a new TLS connection and one query, in a loop.
handshakes() {
  python3 - "$1" "$tls/ca.pem" <<'PY'
import ssl, sys, time, pymysql
port, ca = int(sys.argv[1]), sys.argv[2]
n, t0 = 0, time.time()
while time.time() - t0 < 5:
    c = pymysql.connect(host="127.0.0.1", port=port, user="sb", password="sb",
                        ssl={"ca": ca, "check_hostname": True})
    c.cursor().execute("SELECT 1")
    c.close()
    n += 1
print(f"{n / (time.time() - t0):.0f}")
PY
}
direct_hs=$(handshakes "$DB_PORT"); proxy_hs=$(handshakes "$TLS_PORT")
echo "TLS connections/s (connect + SELECT 1, one client): direct $direct_hs, through ghostwire $proxy_hs ($(awk -v a="$proxy_hs" -v b="$direct_hs" 'BEGIN { printf "%.2f", a / b }')x)"
