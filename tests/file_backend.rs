//! Which backend files use, and how `ONEPORT_DRIVER` picks it.
//!
//! Environment variables are process-wide, so each case re-runs this test
//! binary as a child with the variable set (or removed) and the child
//! reports what its runtime chose; the parent checks the report. The child
//! also does real file I/O (write, sync, read back), so a forced backend is
//! exercised, not only named.
mod common;

use common::within;

/// Set in the child: the case to report on.
const CHILD: &str = "ONEPORT_FILE_BACKEND_CHILD";

/// What `Runtime::new()` gave in this process: the file backend after a
/// write/sync/read round trip, or the error's kind and text.
fn report() -> String {
    let rt = match oneport::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return format!("error {:?}: {e}", e.kind()),
    };
    rt.block_on(async {
        let path = std::env::temp_dir().join(format!(
            "oneport-file-backend-{}-{}",
            std::process::id(),
            std::env::var(CHILD).unwrap_or_default()
        ));
        let f = oneport::fs::File::create(&path).await.unwrap();
        let (n, _) = f.write_at(&b"backend"[..], 3).await;
        assert_eq!(n.unwrap(), 7);
        f.sync_all().await.unwrap();
        f.sync_data().await.unwrap();
        let (n, got) = f.read_at(Vec::with_capacity(16), 0).await;
        assert_eq!(n.unwrap(), 10);
        assert_eq!(got, b"\0\0\0backend");
        drop(f);
        let _ = std::fs::remove_file(&path);
        format!("backend {}", oneport::lowlevel::statistics().file_backend)
    })
}

/// The child's half: prints the report when this process is a child.
#[test]
fn child_reports_its_file_backend() {
    if std::env::var_os(CHILD).is_some() {
        println!("REPORT<{}>", report());
    }
}

/// Runs this binary's child test with `ONEPORT_DRIVER` as given (`None`:
/// removed) and returns its report.
#[cfg(target_os = "linux")]
fn child(driver: Option<&str>) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_reports_its_file_backend",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, driver.unwrap_or("default"));
    match driver {
        Some(d) => cmd.env("ONEPORT_DRIVER", d),
        None => cmd.env_remove("ONEPORT_DRIVER"),
    };
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = text.find("REPORT<").expect("the child printed no report") + 7;
    let end = start + text[start..].find('>').unwrap();
    text[start..end].to_string()
}

#[cfg(target_os = "linux")]
#[test]
fn the_ring_is_the_default_when_it_can_be_had_and_epoll_forces_the_pool() {
    within(120, || {
        let forced = child(Some("io_uring"));
        let default = child(None);
        let empty = child(Some(""));
        let pool = child(Some("epoll"));
        eprintln!("io_uring forced: {forced}; default: {default}; epoll: {pool}");
        assert_eq!(pool, "backend pool");
        if forced == "backend io_uring" {
            assert_eq!(
                default, "backend io_uring",
                "a usable ring was not the default"
            );
        } else {
            // No ring here: the forced case must say so clearly, and the
            // default falls back to the pool.
            assert!(
                forced.starts_with("error") && forced.contains("ONEPORT_DRIVER=io_uring"),
                "unclear failure: {forced}"
            );
            assert_eq!(default, "backend pool");
        }
        assert_eq!(empty, default, "an empty ONEPORT_DRIVER is not the default");
    });
}

/// On this machine (kernel 6.x, io_uring allowed) the ring is expected;
/// `ONEPORT_EXPECT_NO_URING=1` opts out where a sandbox forbids it.
#[cfg(target_os = "linux")]
#[test]
fn the_ring_is_found_here() {
    if std::env::var_os("ONEPORT_EXPECT_NO_URING").is_some() {
        return;
    }
    within(60, || {
        assert_eq!(child(None), "backend io_uring");
    });
}

#[cfg(target_os = "linux")]
#[test]
fn an_unknown_driver_is_invalid_input() {
    within(60, || {
        let r = child(Some("bogus"));
        assert!(
            r.starts_with("error InvalidInput") && r.contains("bogus"),
            "got {r}"
        );
    });
}

#[cfg(windows)]
#[test]
fn windows_files_use_the_completion_port() {
    within(60, || {
        assert_eq!(report(), "backend windows");
    });
}
