# Sourced by the Wine scripts: where the project's Wine prefix lives and how
# Wine must be configured for tests (see ../shared/WINE.md).
ONEPORT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WINEPREFIX="${ONEPORT_WINEPREFIX:-$ONEPORT_ROOT/target/wine-prefix}"
# Keep "DLL not found" visible, silence the rest.
export WINEDEBUG="${WINEDEBUG:--all,err+module}"
# Without this a crashing test starts Wine's debugger and can look like a pass.
export WINEDLLOVERRIDES="winedbg.exe=d"
WINE_LOADER=/usr/lib/wine/wine64
