#!/usr/bin/env bash
# Runs every test: natively (files on io_uring where the kernel offers it),
# natively again with ONEPORT_DRIVER=epoll (files on the pool), then cross-compiled for x86_64-pc-windows-gnu
# under Wine, then the lint and API-contract checks. Installs what is
# missing first (scripts/setup.sh). Prints the native, native-epoll and Wine test counts
# and ends with one "N passed, M failed" line for both together.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh || { echo "test: setup failed" >&2; exit 1; }

win=x86_64-pc-windows-gnu
logs="$root/target/test-logs"
mkdir -p "$logs"
status=0
summary=()

# count LOG -> "passed failed" summed over libtest's "test result:" lines
count() {
  awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
       END { printf "%d %d\n", p, f }' "$1"
}

# A suite that hangs (a wedged Wine server, say) is stopped after 30 minutes
# and counted as failed, so CI reports instead of running out its time.
suite() { # NAME CMD...
  local name=$1; shift
  echo "==> $name: $*"
  timeout --kill-after=30 1800 "$@" 2>&1 | tee "$logs/$name.log"
  local rc=${PIPESTATUS[0]}
  read -r p f < <(count "$logs/$name.log")
  summary+=("$name: $p passed, $f failed (exit $rc)")
  total_p=$(( ${total_p:-0} + p )); total_f=$(( ${total_f:-0} + f ))
  if [ "$rc" != 0 ]; then status=1; [ "$f" = 0 ] && total_f=$(( total_f + 1 )); fi
}

check() { # NAME CMD...
  local name=$1; shift
  echo "==> $name: $*"
  if "$@"; then summary+=("$name: ok"); else summary+=("$name: FAILED"); status=1; fi
}

# The Windows echo server that tests/echo_wine.rs drives from the native side.
cargo build --quiet --example echo --example http_server --target "$win" || status=1
suite native cargo test --workspace --no-fail-fast
# The same tests with Linux files forced onto the blocking pool (the
# fallback where io_uring is unavailable), so both backends stay green.
suite native-epoll env ONEPORT_DRIVER=epoll cargo test --workspace --no-fail-fast
suite wine cargo test --workspace --target "$win" --no-fail-fast
check fmt cargo fmt --all -- --check
check clippy-native cargo clippy --workspace --all-targets --quiet -- -D warnings
check clippy-windows cargo clippy --workspace --all-targets --quiet --target "$win" -- -D warnings
# The API docs build without a warning (broken or redundant links) on both targets.
check doc-native env RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p oneport
check doc-windows env RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p oneport --target "$win"
# Benchmark smoke runs (debug build, --quick: seconds each; see BENCHMARKS.md)
check bench-smoke cargo run -q -p oneport-bench -- all --quick
check bench-smoke-wine cargo run -q -p oneport-bench --target "$win" -- all --quick
if [ -x "$root/../shared/contract/check.sh" ]; then
  check contract "$root/../shared/contract/check.sh" "$root"
fi
if [ -x "$root/scripts/extra-checks.sh" ]; then
  check extra "$root/scripts/extra-checks.sh"
fi

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
echo "tests: ${total_p:-0} passed, ${total_f:-0} failed"
exit $status
