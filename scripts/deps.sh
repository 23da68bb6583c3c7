#!/usr/bin/env bash
# Installs what ghostwire's scripts and tests need on a Debian machine, only
# what is missing: MariaDB server + client, sysbench, and
# - the clients of the auth matrix (tests/auth.rs): PyMySQL with cryptography
#   (its RSA key exchange) and PyNaCl (its ed25519), mysql-connector-python,
#   node's mysql2 (tests/auth/node_modules, from tests/auth/package-lock.json),
#   Go with Debian's go-sql-driver; its MySQL CLI lives in MySQL's root
#   filesystem (scripts/mysql-up.sh);
# - for the tools tests (tests/tools.rs): Node.js + npm, Go with its MySQL
#   driver, Ruby's Sequel, ActiveRecord and mysql2 (Debian), and the pinned
#   migration tools: a Python venv from tests/tools/requirements.txt
#   (Alembic, Django) in $GHOSTWIRE_TEST_DEPS, and node modules from
#   tests/tools/package-lock.json (knex, Sequelize with umzug, TypeORM) in
#   tests/tools/node_modules (per work tree, like tests/auth's: one shared
#   directory would be reinstalled by each tree with another lock file).
# --server-only: just the MariaDB server and client.
set -euo pipefail
cd "$(dirname "$0")/.."
full=1
[ "${1:-}" = "--server-only" ] && full=0
DEPS=${GHOSTWIRE_TEST_DEPS:-/var/tmp/ghostwire-test-deps}
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
# Time zone data for the fidelity tests' DST session (and named zones).
[ -d /usr/share/zoneinfo/Europe ] || need+=(tzdata)
if [ $full = 1 ]; then
  command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/go-sql-driver/mysql ] || need+=(golang-github-go-sql-driver-mysql-dev)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  # Sequel, ActiveRecord and Ruby's mysql2 from Debian (they bring ruby).
  ruby -e 'require "sequel"' >/dev/null 2>&1 || need+=(ruby-sequel)
  ruby -e 'require "active_record"' >/dev/null 2>&1 || need+=(ruby-activerecord)
  ruby -e 'require "mysql2"' >/dev/null 2>&1 || need+=(ruby-mysql2)
  python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Keep Debian's maintainer scripts from starting a system MariaDB.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
[ $full = 1 ] || exit 0

# Python clients: pip where python3 has one, else Debian's packages.
pip_or_apt() {   # module, pip package, Debian package
  python3 -c "import $1" 2>/dev/null && return 0
  echo "installing: $2"
  python3 -m pip install -q "$2" 2>/dev/null || { apt-get update -qq; apt-get install -y -qq "$3" >/dev/null; }
}
pip_or_apt pymysql pymysql python3-pymysql
pip_or_apt cryptography cryptography python3-cryptography
pip_or_apt nacl pynacl python3-nacl   # PyMySQL's ed25519
# Pinned: tests/auth.rs pins its client-side errors (exception classes).
pip_or_apt mysql.connector mysql-connector-python==26.10.0 python3-mysql.connector

if [ ! -d tests/auth/node_modules/mysql2 ]; then
  echo "installing: mysql2 (npm, into tests/auth/node_modules)"
  npm ci --prefix tests/auth --no-audit --no-fund --loglevel=error >/dev/null
fi
# The tools tests' Python packages, pinned; reinstalled when the pins change.
mkdir -p "$DEPS"
if ! cmp -s tests/tools/requirements.txt "$DEPS/venv/requirements.txt"; then
  echo "installing: $(grep -v '^#' tests/tools/requirements.txt | tr '\n' ' ')into $DEPS/venv"
  [ -x "$DEPS/venv/bin/python" ] || python3 -m venv "$DEPS/venv"
  "$DEPS/venv/bin/pip" install -q -r tests/tools/requirements.txt
  cp tests/tools/requirements.txt "$DEPS/venv/requirements.txt"
fi
# The node packages, pinned with their lock file, likewise (npm's own cache
# keeps a reinstall to seconds).
stamp=tests/tools/node_modules/.ghostwire-package-lock.json
if ! cmp -s tests/tools/package-lock.json "$stamp"; then
  echo "installing: node packages of tests/tools/package.json into tests/tools/node_modules"
  npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error >/dev/null
  cp tests/tools/package-lock.json "$stamp"
fi
