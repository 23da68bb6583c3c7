#!/usr/bin/env bash
# Starts a local MariaDB (ROW binlog) on 127.0.0.1:3307 under ./.local/ and
# ghostwire on 127.0.0.1:6033 in front of it. Installs MariaDB if missing.
# TLS on both sides (TLS=off for plain text): a CA and certificates for
# 127.0.0.1 made once with the openssl CLI under ./.local/tls; clients may
# use TLS to ghostwire, ghostwire always uses it to MariaDB (verify_identity).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --server-only
root="$PWD/.local"
data="$root/mariadb"
mkdir -p "$root"
db_port="${DB_PORT:-3307}"
proxy_port="${PROXY_PORT:-6033}"
metrics_port="${METRICS_PORT:-$((proxy_port + 3000))}"
app_pass="${APP_PASSWORD:-app-pass}"
gw_pass="${GHOSTWIRE_BACKEND_PASSWORD:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

if [ ! -d "$data/mysql" ]; then
  echo "initialising MariaDB in $data"
  mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$data" \
    --auth-root-authentication-method=socket --skip-test-db >"$root/install.log" 2>&1
fi
cat >"$root/init.sql" <<SQL
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '$app_pass';
GRANT ALL ON *.* TO 'app'@'%';
CREATE USER IF NOT EXISTS 'ghostwire'@'%' IDENTIFIED BY '$gw_pass';
ALTER USER 'ghostwire'@'%' IDENTIFIED BY '$gw_pass';
GRANT SELECT, INSERT, DELETE, CREATE, DROP, ALTER, LOCK TABLES, CREATE TEMPORARY TABLES ON *.* TO 'ghostwire'@'%';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'ghostwire'@'%';
GRANT ALL ON \`_ghostwire\`.* TO 'ghostwire'@'%';
SQL
chmod 600 "$root/init.sql"

tls="${TLS:-on}"
tlsdir="$root/tls"
db_tls=()
if [ "$tls" != off ]; then
  if [ ! -f "$tlsdir/server-cert.pem" ]; then
    echo "making a local CA and a certificate for 127.0.0.1 in $tlsdir"
    mkdir -p "$tlsdir" && chmod 700 "$tlsdir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ghostwire local CA" \
      -keyout "$tlsdir/ca-key.pem" -out "$tlsdir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$tlsdir/server-key.pem" -out "$tlsdir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tlsdir/san.ext"
    openssl x509 -req -in "$tlsdir/server.csr" -CA "$tlsdir/ca.pem" -CAkey "$tlsdir/ca-key.pem" \
      -CAcreateserial -days 3650 -extfile "$tlsdir/san.ext" -out "$tlsdir/server-cert.pem" 2>/dev/null
  fi
  db_tls=(--ssl-ca="$tlsdir/ca.pem" --ssl-cert="$tlsdir/server-cert.pem" --ssl-key="$tlsdir/server-key.pem")
fi

mariadbd --no-defaults --user="$(id -un)" --datadir="$data" --port="$db_port" \
  --bind-address=127.0.0.1 --socket="$root/mariadb.sock" --pid-file="$root/mariadb.pid" \
  --log-bin="$data/binlog" --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
  --init-file="$root/init.sql" --log-error="$root/mariadb.err" --max-allowed-packet=64M \
  "${db_tls[@]}" &
db_pid=$!
trap 'kill $db_pid 2>/dev/null; kill ${gw_pid:-} 2>/dev/null; wait' EXIT INT TERM
for _ in $(seq 1 100); do
  mariadb --protocol=TCP -h127.0.0.1 -P"$db_port" -uapp -p"$app_pass" -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.2
done

cargo build --release --quiet
cat >"$root/proxy.toml" <<TOML
[listen]
addr = "127.0.0.1:$proxy_port"
[backend]
addr = "127.0.0.1:$db_port"
user = "ghostwire"
password_env = "GHOSTWIRE_LOCAL_PASSWORD"
[metrics]
addr = "127.0.0.1:$metrics_port"
TOML
connect_tls=""
if [ "$tls" != off ]; then
  # The same certificate serves clients (it names 127.0.0.1).
  cat >>"$root/proxy.toml" <<TOML
[listen.tls]
mode = "optional"
cert = "$tlsdir/server-cert.pem"
key = "$tlsdir/server-key.pem"
[backend.tls]
mode = "verify_identity"
ca = "$tlsdir/ca.pem"
TOML
  connect_tls=" --ssl --ssl-ca=$tlsdir/ca.pem --ssl-verify-server-cert"
fi
GHOSTWIRE_LOCAL_PASSWORD="$gw_pass" "${CARGO_TARGET_DIR:-target}/release/ghostwire" serve --config "$root/proxy.toml" &
gw_pid=$!
cat <<MSG

  ghostwire is listening on 127.0.0.1:$proxy_port, in front of MariaDB on 127.0.0.1:$db_port.

  Connect:   mariadb --protocol=TCP -h127.0.0.1 -P$proxy_port -uapp -p$app_pass$connect_tls
  Try:       SHOW MIGRATIONS;
  Metrics:   curl -s 127.0.0.1:$metrics_port/metrics
  Stop:      Ctrl-C

MSG
wait $gw_pid
