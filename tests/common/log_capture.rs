//! A process-wide `log` logger that keeps every record, for tests that
//! check what oneport reports through the `log` facade. The logger is
//! process-wide: a test binary that uses it shares one capture.

use std::sync::{Mutex, OnceLock};

/// Every record logged in this process: (level, target, message).
pub struct Capture(pub Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((r.level(), r.target().to_string(), r.args().to_string()));
    }
    fn flush(&self) {}
}

/// Installs the capture as the process's logger (once) and returns it.
pub fn capture() -> &'static Capture {
    static C: OnceLock<&'static Capture> = OnceLock::new();
    C.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}
