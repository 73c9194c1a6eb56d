//! End to end across the boundary: the Windows build of the echo example,
//! running under Wine, serves 100 native Linux clients byte-exact.
//!
//! `scripts/test.sh` builds `echo.exe` before the native suite; when it (or
//! Wine, or the project's Wine prefix) is missing this test says so and
//! passes without running.
#![cfg(target_os = "linux")]
mod common;

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

use common::within;

#[test]
fn the_windows_echo_server_under_wine_serves_native_clients_byte_exact() {
    let Some(server) = common::wine_example::start("echo", &["server", "127.0.0.1:0"]) else {
        return;
    };
    let addr = server.addr;
    let result = within(180, move || {
        oneport::run(async move { echo::run_clients(addr, 100, 65536).await })
    });
    match result {
        Ok(report) => {
            assert_eq!(report.connections, 100);
            eprintln!("echo_wine: {report}");
        }
        Err(e) => panic!(
            "native clients against the Windows server failed: {e}; server stderr: {}",
            server.stderr()
        ),
    }
}
