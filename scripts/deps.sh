#!/usr/bin/env bash
# Installs what ghostwire's scripts and tests need on a Debian machine, only
# what is missing: MariaDB server + client, sysbench, PyMySQL, and for the
# tools tests (tests/tools.rs) Node.js + npm, Go with its MySQL driver, Ruby's
# Sequel and mysql2, and
# the pinned migration tools in $GHOSTWIRE_TEST_DEPS (a Python venv from
# tests/tools/requirements.txt, node modules from tests/tools/package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
DEPS=${GHOSTWIRE_TEST_DEPS:-/var/tmp/ghostwire-test-deps}
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
# Time zone data for the fidelity tests' DST session (and named zones).
[ -d /usr/share/zoneinfo/Europe ] || need+=(tzdata)
if [ "${1:-}" != "--server-only" ]; then
  command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/go-sql-driver/mysql ] || need+=(golang-github-go-sql-driver-mysql-dev)
  # Sequel and Ruby's mysql2 from Debian (they bring ruby).
  ruby -e 'require "sequel"' >/dev/null 2>&1 || need+=(ruby-sequel)
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
[ "${1:-}" = "--server-only" ] && exit 0
if ! python3 -c 'import pymysql' 2>/dev/null; then
  echo "installing: PyMySQL"
  python3 -m pip install -q pymysql 2>/dev/null || apt-get install -y -qq python3-pymysql >/dev/null
fi
# The tools tests' Python packages, pinned; reinstalled when the pins change.
mkdir -p "$DEPS"
if ! cmp -s tests/tools/requirements.txt "$DEPS/venv/requirements.txt"; then
  echo "installing: $(grep -v '^#' tests/tools/requirements.txt | tr '\n' ' ')into $DEPS/venv"
  [ -x "$DEPS/venv/bin/python" ] || python3 -m venv "$DEPS/venv"
  "$DEPS/venv/bin/pip" install -q -r tests/tools/requirements.txt
  cp tests/tools/requirements.txt "$DEPS/venv/requirements.txt"
fi
# The node packages, pinned with their lock file, likewise.
if ! cmp -s tests/tools/package-lock.json "$DEPS/node/package-lock.json"; then
  echo "installing: node packages of tests/tools/package.json into $DEPS/node"
  mkdir -p "$DEPS/node"
  cp tests/tools/package.json tests/tools/package-lock.json "$DEPS/node/"
  (cd "$DEPS/node" && npm ci --no-audit --no-fund --silent) || { rm -f "$DEPS/node/package-lock.json"; exit 1; }
fi
