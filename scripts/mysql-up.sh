#!/usr/bin/env bash
# A MySQL server for ghostwire's tests, on 127.0.0.1:PORT, from Debian's own
# packages. Needs root.
#
# Debian stable has only MariaDB; MySQL (mysql-server-core, 9.7) is in the
# unstable suite and needs its newer C library. So a minimal unstable root
# filesystem is made once with debootstrap (from the mirror this machine's
# apt already uses, ~3 min) and cached in $GHOSTWIRE_MYSQL_ROOTFS, where later
# runs and CI on the same machine reuse it. mysqld runs inside it with chroot
# and shares the host's network.
#
# A pristine initialised data directory (time zones loaded) is cached next
# to it too, so starting a server is a copy, not a 20 s --initialize.
#
# The MySQL client (mysql-client-core, same version) is installed there too:
# the script talks to the server with it, and tests/auth.rs runs it
# (`chroot $ROOT mysql …`) as one of the clients of its login matrix.
#
# Usage: scripts/mysql-up.sh --rootfs          only make sure the root filesystem is there
#        scripts/mysql-up.sh [--fresh] PORT   start (data in $ROOTFS/var/lib/ghostwire-PORT;
#                                             --fresh: from the pristine copy); a server
#                                             already answering on PORT is left as it is
#        scripts/mysql-up.sh --stop PORT      stop the server this script started on PORT
#                                             and remove its data directory
#        scripts/mysql-up.sh --kill PORT      kill -9 it, keeping its data (a crash; start
#                                             it again with scripts/mysql-up.sh PORT)
# Server: root@% without password, ROW binlog, FULL images, GTID on,
# performance_schema on (the tests read the processlist), LOCAL INFILE allowed
# (off by default on MySQL; MariaDB allows it), X protocol off.
# Its error log: $ROOTFS/var/lib/ghostwire-PORT/err.log.
set -euo pipefail
ROOT=${GHOSTWIRE_MYSQL_ROOTFS:-/var/tmp/ghostwire-mysql-rootfs}
FRESH=0; STOP=0; KILL=0; ROOTFS_ONLY=0; PORT=
case "${1:-}" in
  --fresh) FRESH=1; shift ;;
  --stop) STOP=1; shift ;;
  --kill) KILL=1; shift ;;
  --rootfs) ROOTFS_ONLY=1 ;;
esac
[ $ROOTFS_ONLY = 1 ] || PORT=${1:?usage: mysql-up.sh [--rootfs | [--fresh|--stop|--kill] PORT]}
DATA=/var/lib/ghostwire-$PORT          # as mysqld sees it, inside the chroot
TEMPLATE=/var/lib/ghostwire-template
PIDFILE=$ROOT$DATA.pid

# The client inside the chroot (the host may have only MariaDB's), over the
# socket: right after --initialize only root@localhost exists, and with
# --skip-name-resolve a TCP connection is never "localhost".
sql() { chroot "$ROOT" mysql -uroot --socket="/run/mysqld/ghostwire-$1.sock" "${@:2}"; }
answers() { sql "$1" -N -e 'SELECT 1' >/dev/null 2>&1; }

stop_pid() {   # a clean shutdown first (so a reused data directory is sound)
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 240); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

if [ $KILL = 1 ]; then
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill -9 "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$PIDFILE"
  exit 0
fi
if [ $STOP = 1 ]; then
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] && stop_pid "$pid"
  rm -rf "$PIDFILE" "$ROOT$DATA"
  exit 0
fi

# --- the root filesystem (once per machine; a lock keeps parallel runs from
# building it twice, and it is published by rename only when complete) ------
exec 9>"$ROOT.lock"
flock 9
if [ ! -x "$ROOT/usr/sbin/mysqld" ]; then
  command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1 || true)
  [ -n "$mirror" ] || { echo "mysql-up: no Debian mirror in apt's sources" >&2; exit 1; }
  echo "mysql-up: building a Debian unstable root filesystem in $ROOT (once, ~3 min)" >&2
  tmp=$ROOT.build
  rm -rf "$tmp"; mkdir -p "$tmp"
  log=$ROOT.log
  debootstrap --variant=minbase sid "$tmp" "$mirror" >"$log" 2>&1 || { tail -5 "$log" >&2; exit 1; }
  # Mirrors may serve a snapshot whose Release is past its Valid-Until.
  echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99no-valid-until"
  chroot "$tmp" apt-get update -qq >>"$log" 2>&1
  # tzdata: the fidelity tests run sessions in Europe/Berlin.
  DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends \
    mysql-server-core mysql-client-core tzdata >>"$log" 2>&1 || { tail -5 "$log" >&2; exit 1; }
  chroot "$tmp" apt-get clean
  rm -rf "$ROOT"; mv "$tmp" "$ROOT"
fi
# A root filesystem cached before the client was part of it: add it.
if [ ! -x "$ROOT/usr/bin/mysql" ]; then
  echo "mysql-up: adding mysql-client-core to $ROOT" >&2
  chroot "$ROOT" apt-get update -qq >>"$ROOT.log" 2>&1
  DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
    mysql-client-core >>"$ROOT.log" 2>&1 || { tail -5 "$ROOT.log" >&2; exit 1; }
  chroot "$ROOT" apt-get clean
fi
[ $ROOTFS_ONLY = 1 ] && exit 0
mkdir -p "$ROOT/run/mysqld" "$ROOT/var/lib/mysql-files"

# Every server reports its address (report_host/report_port): a replica of a
# test primary is then listed by the primary's SHOW REPLICAS (tests/throttle.rs).
start() {   # start mysqld on data dir $1 and port $2, wait until it answers
  chroot "$ROOT" mysqld --no-defaults --user=root --datadir="$1" --port="$2" \
    --bind-address=127.0.0.1 --socket="/run/mysqld/ghostwire-$2.sock" --pid-file="$1.pid" \
    --mysqlx=OFF --server-id=1 --log-bin=binlog --binlog-format=ROW --binlog-row-image=FULL \
    --gtid-mode=ON --enforce-gtid-consistency=ON --secure-file-priv='' \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
    --max-connections=1000 --max-allowed-packet=64M --skip-name-resolve --local-infile=ON \
    --report-host=127.0.0.1 --report-port="$2" \
    --log-error="$1/err.log" >/dev/null 2>&1 &
  for _ in $(seq 1 600); do
    answers "$2" && return 0
    kill -0 $! 2>/dev/null || break
    sleep 0.2
  done
  echo "mysql-up: mysqld did not start on $2" >&2
  tail -20 "$ROOT$1/err.log" >&2
  exit 1
}

# --- the pristine data directory (once): initialised, root@%, time zones ---
if [ ! -f "$ROOT$TEMPLATE.ok" ]; then
  rm -rf "${ROOT:?}$TEMPLATE"
  chroot "$ROOT" mysqld --no-defaults --initialize-insecure --user=root --datadir="$TEMPLATE" \
    >"$ROOT$TEMPLATE.init.log" 2>&1 || { tail -5 "$ROOT$TEMPLATE.init.log" >&2; exit 1; }
  tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  start "$TEMPLATE" "$tport"
  # root@localhost only after --initialize; tests connect over TCP as root@%.
  sql "$tport" -e "CREATE USER IF NOT EXISTS 'root'@'%'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  # The zone tables are empty after --initialize; MySQL's own loader.
  chroot "$ROOT" sh -c "mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null \
    | mysql -uroot --socket=/run/mysqld/ghostwire-$tport.sock mysql"
  stop_pid "$(cat "$ROOT$TEMPLATE.pid")"
  rm -f "$ROOT$TEMPLATE.pid" "$ROOT$TEMPLATE/err.log"
  touch "$ROOT$TEMPLATE.ok"
fi
flock -u 9

if answers "$PORT"; then
  echo "mysql $(sql "$PORT" -N -e 'SELECT VERSION()') already up on $PORT"
  exit 0
fi
if [ $FRESH = 1 ] || [ ! -d "$ROOT$DATA/mysql" ]; then
  rm -rf "${ROOT:?}$DATA"
  cp -a "$ROOT$TEMPLATE" "$ROOT$DATA"
  rm -f "$ROOT$DATA/auto.cnf"   # its own server UUID (GTIDs name it)
fi
start "$DATA" "$PORT"
echo "mysql $(sql "$PORT" -N -e 'SELECT VERSION()') up on $PORT"
