#!/usr/bin/env bash
# Installs whatever the native and Wine test runs need and is missing:
# Debian packages (Wine, the MinGW cross compiler), the Rust Windows target,
# the bcryptprimitives shim DLL (built from scripts/wine-shim), a Wine prefix
# owned by the project, and a persistent wineserver with Wine's services
# already started. Safe to run again: each step is skipped when done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/wine-env.sh"
cd "$ONEPORT_ROOT"
say() { echo "setup: $*" >&2; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "$WINE_LOADER" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  say "installing wine64 and gcc-mingw-w64-x86-64 (apt)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 gcc-mingw-w64-x86-64 >/dev/null
fi

if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  say "adding the Rust target x86_64-pc-windows-gnu"
  rustup target add x86_64-pc-windows-gnu >/dev/null
fi

shim_dir="$ONEPORT_ROOT/target/wine-shim"
shim="$shim_dir/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ scripts/wine-shim/shim.c -nt "$shim" ] || [ scripts/wine-shim/shim.def -nt "$shim" ]; then
  say "building the bcryptprimitives shim DLL"
  mkdir -p "$shim_dir"
  x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" scripts/wine-shim/shim.c scripts/wine-shim/shim.def -lbcrypt
fi

if [ ! -f "$WINEPREFIX/system.reg" ]; then
  say "creating the Wine prefix $WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  wineboot --init >/dev/null 2>&1
  wineserver -w
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
if ! cmp -s "$shim" "$sys32/bcryptprimitives.dll"; then
  cp "$shim" "$sys32/bcryptprimitives.dll"
fi

# A persistent server with the services already running: fast process
# start-up, and no test process inherits the services' stderr. `wineserver
# -p` fails when a server already runs for this prefix (another run of this
# script started it): then it is left alone, so concurrent runs never kill
# each other's tests.
if wineserver -p 2>/dev/null; then
  say "started a persistent wineserver"
fi
"$WINE_LOADER" cmd.exe /c exit >/dev/null 2>&1 </dev/null || true
say "ready (WINEPREFIX=$WINEPREFIX)"
