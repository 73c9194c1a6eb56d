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

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::within;

/// Kills and reaps the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What is missing to run this test, if anything.
fn missing(exe: &Path) -> Option<String> {
    let prefix = std::env::var_os("ONEPORT_WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wine-prefix"));
    if !exe.exists() {
        Some(format!(
            "{} (cargo build --example echo --target x86_64-pc-windows-gnu)",
            exe.display()
        ))
    } else if !Path::new("/usr/lib/wine/wine64").exists() {
        Some("/usr/lib/wine/wine64".into())
    } else if !prefix.join("system.reg").exists() {
        Some(format!(
            "the Wine prefix {} (scripts/setup.sh)",
            prefix.display()
        ))
    } else {
        None
    }
}

#[test]
fn the_windows_echo_server_under_wine_serves_native_clients_byte_exact() {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let exe = target.join("x86_64-pc-windows-gnu/debug/examples/echo.exe");
    if let Some(what) = missing(&exe) {
        // scripts/test.sh (and so CI) builds and installs everything this
        // needs: there, a skip would hide a broken harness.
        assert!(
            std::env::var_os("CI").is_none(),
            "echo_wine: missing {what} under CI (scripts/test.sh builds it)"
        );
        eprintln!("echo_wine: skipped, missing {what}");
        return;
    }
    let mut child = Command::new(root().join("scripts/wine-run"))
        .arg(&exe)
        .args(["server", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start scripts/wine-run");
    // Collect the server's stderr for the failure message. The readers are
    // never joined: a Wine helper process could keep the pipes open.
    let errors = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = errors.clone();
    std::thread::spawn(move || {
        let mut s = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            if let Ok(mut g) = sink.lock() {
                g.clone_from(&s);
            }
        }
    });
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr_so_far = || errors.lock().map(|s| s.clone()).unwrap_or_default();
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| {
            panic!(
                "the server printed no address ({e}); its stderr: {}",
                stderr_so_far()
            )
        });
    let addr: SocketAddr = first
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from the server: {first:?}"));
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
            stderr_so_far()
        ),
    }
    drop(server);
}
