#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what is missing,
# then format check, clippy, and every test against a real MariaDB that the
# tests start themselves (or GHOSTWIRE_TEST_MYSQL=mysql://root@host:port).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
