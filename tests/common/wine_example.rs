//! Runs the Windows build of an example under Wine, for the tests that
//! drive it from native Linux clients (`echo_wine`, `http_wine`).
//!
//! `scripts/test.sh` builds the examples for Windows before the native
//! suite; when one (or Wine, or the project's Wine prefix) is missing the
//! caller skips, except under CI, where a skip would hide a broken harness.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// The running example: killed and reaped however the test ends.
pub struct WineExample {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// The address the example printed at the end of its first line.
    pub addr: SocketAddr,
}

impl WineExample {
    /// What the example wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for WineExample {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What is missing to run `exe` under Wine, if anything.
fn missing(exe: &Path, example: &str) -> Option<String> {
    let prefix = std::env::var_os("ONEPORT_WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wine-prefix"));
    if !exe.exists() {
        Some(format!(
            "{} (cargo build --example {example} --target x86_64-pc-windows-gnu)",
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

/// Starts `example.exe ARGS...` under Wine and waits (at most a minute)
/// for the first line it prints, which must end with the address it
/// listens on. `None` when something it needs is missing outside CI.
pub fn start(example: &str, args: &[&str]) -> Option<WineExample> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let exe = target.join(format!(
        "x86_64-pc-windows-gnu/debug/examples/{example}.exe"
    ));
    if let Some(what) = missing(&exe, example) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{example} under Wine: missing {what} under CI (scripts/test.sh builds it)"
        );
        eprintln!("{example} under Wine: skipped, missing {what}");
        return None;
    }
    let mut child = Command::new(root().join("scripts/wine-run"))
        .arg(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start scripts/wine-run");
    // Collect stderr for failure messages. The readers are never joined: a
    // Wine helper process could keep the pipes open.
    let errors = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = errors.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            if let Ok(mut g) = sink.lock() {
                g.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60));
    let so_far = || errors.lock().map(|s| s.clone()).unwrap_or_default();
    let first = match first {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{example} printed no address ({e}); its stderr: {}",
                so_far()
            );
        }
    };
    let Some(addr) = first.rsplit(' ').next().and_then(|a| a.parse().ok()) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("unexpected first line from {example}: {first:?}");
    };
    Some(WineExample {
        child,
        stderr: errors,
        addr,
    })
}
