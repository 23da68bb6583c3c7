#!/usr/bin/env bash
# Installs what ghostwire's scripts and tests need on a Debian machine, only
# what is missing: MariaDB server + client, sysbench, PyMySQL.
set -euo pipefail
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
# Time zone data for the fidelity tests' DST session (and named zones).
[ -d /usr/share/zoneinfo/Europe ] || need+=(tzdata)
[ "${1:-}" = "--server-only" ] || command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Keep Debian's maintainer scripts from starting a system MariaDB.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
if [ "${1:-}" != "--server-only" ] && ! python3 -c 'import pymysql' 2>/dev/null; then
  echo "installing: PyMySQL"
  python3 -m pip install -q pymysql 2>/dev/null || apt-get install -y -qq python3-pymysql >/dev/null
fi
