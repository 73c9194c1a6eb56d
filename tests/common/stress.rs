//! What every randomised stress test shares: its seed, its size, and the
//! process's open fd/handle count.
//!
//! A stress test is seeded and bounded. The seed comes from
//! `ONEPORT_STRESS_SEED` (decimal or 0x-hex) or, when unset, from the clock;
//! it is printed first, so a failing run can be replayed exactly. Its size
//! is the short one unless `ONEPORT_STRESS=long` (the long run documented in
//! the README, `scripts/stress.sh`).

use super::Rng;

/// One stress test's seed and size.
pub struct Stress {
    /// The seed this run uses (printed by [`Stress::new`]).
    pub seed: u64,
    /// Whether `ONEPORT_STRESS=long` asked for the long run.
    pub long: bool,
}

impl Stress {
    /// Reads the environment and prints `NAME: seed ...` so a failure can be
    /// replayed with `ONEPORT_STRESS_SEED`.
    pub fn new(name: &str) -> Stress {
        let seed = match std::env::var("ONEPORT_STRESS_SEED") {
            Ok(s) => parse_seed(&s).unwrap_or_else(|| panic!("bad ONEPORT_STRESS_SEED {s:?}")),
            Err(_) => {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1);
                t | 1
            }
        };
        let long = std::env::var("ONEPORT_STRESS").is_ok_and(|v| v == "long");
        eprintln!(
            "{name}: ONEPORT_STRESS_SEED={seed:#x} ({})",
            if long { "long" } else { "short" }
        );
        Stress { seed, long }
    }

    /// `short` rounds normally, `long` rounds in the long run.
    pub fn rounds(&self, short: usize, long: usize) -> usize {
        if self.long {
            long
        } else {
            short
        }
    }

    /// A generator seeded from this run's seed and `stream` (so each thread
    /// or round can have its own reproducible sequence).
    pub fn rng(&self, stream: u64) -> Rng {
        let mut r = Rng((self.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        r.next();
        r
    }
}

fn parse_seed(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// How many fds (Linux) or handles (Windows) this process has open now.
/// Compare before and after a stress run: what the runtime opened must be
/// closed once it is dropped. Other tests of the same binary run on other
/// threads, so a stress test that checks this lives in its own test binary
/// or runs its checks with the others serialised.
pub fn open_handles() -> usize {
    #[cfg(unix)]
    {
        std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count().saturating_sub(1)) // read_dir's own fd
            .unwrap_or(0)
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessHandleCount};
        let mut n = 0u32;
        // SAFETY: GetCurrentProcess returns a pseudo-handle valid for this
        // call; `n` is a valid out pointer.
        unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut n) };
        n as usize
    }
}
