#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what is missing,
# then format check and clippy (once), then every test against a real
# MariaDB 10.11 (each test binary starts its own) and against a real MySQL
# 9.7 (one server for all binaries, by scripts/mysql-up.sh; each test keeps
# to its own schema).
#
# GHOSTWIRE_TEST_FLAVOURS="mariadb mysql" (the default) chooses the runs;
# GHOSTWIRE_TEST_MYSQL=mysql://root@host:port runs once against that server
# instead. Arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --no-run --quiet

if [ -n "${GHOSTWIRE_TEST_MYSQL:-}" ]; then
  exec cargo test "$@"
fi

status=0
for flavour in ${GHOSTWIRE_TEST_FLAVOURS:-mariadb mysql}; do
  start=$SECONDS
  case $flavour in
    mariadb)
      echo "== tests on MariaDB"
      GHOSTWIRE_TEST_FLAVOUR=mariadb cargo test --no-fail-fast "$@" || status=1
      ;;
    mysql)
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      scripts/mysql-up.sh --fresh "$port"
      trap 'scripts/mysql-up.sh --stop '"$port" EXIT
      echo "== tests on MySQL"
      GHOSTWIRE_TEST_MYSQL="mysql://root@127.0.0.1:$port" cargo test --no-fail-fast "$@" || status=1
      scripts/mysql-up.sh --stop "$port"
      trap - EXIT
      ;;
    *)
      echo "GHOSTWIRE_TEST_FLAVOURS: unknown flavour $flavour (mariadb, mysql)" >&2
      exit 2
      ;;
  esac
  echo "== $flavour: $((SECONDS - start)) s"
done
exit $status
