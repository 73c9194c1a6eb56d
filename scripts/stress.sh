#!/usr/bin/env bash
# The long stress run: every tests/stress_*.rs binary with ONEPORT_STRESS=long,
# natively and (cross-compiled) under Wine. The short run of the same tests is
# part of scripts/test.sh. Replay a failure with the seed it printed:
#   ONEPORT_STRESS_SEED=0x... scripts/stress.sh
# Pass --native or --wine to run one side only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
export ONEPORT_STRESS=long
tests=()
for f in tests/stress_*.rs; do
  name=$(basename "$f" .rs)
  tests+=(--test "$name")
done
native=1 wine=1
case "${1:-}" in
  --native) wine=0 ;;
  --wine) native=0 ;;
esac
status=0
if [ "$native" = 1 ]; then
  # Windows-only stress binaries compile to nothing natively. The process
  # churn runs the child helper example, which `cargo test` alone does not
  # build with --test filters.
  cargo build --release --example child_helper
  cargo test --release "${tests[@]}" -- --nocapture --test-threads=1 || status=1
fi
if [ "$wine" = 1 ]; then
  cargo build --release --example child_helper --target x86_64-pc-windows-gnu
  cargo test --release --target x86_64-pc-windows-gnu "${tests[@]}" -- --nocapture --test-threads=1 || status=1
fi
exit $status
