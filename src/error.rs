//! The two error conditions every waiting primitive shares.
//!
//! Both are carried inside `io::Error` so that every I/O function keeps the
//! ordinary `io::Result` signature: *busy* is the standard
//! `io::ErrorKind::ResourceBusy`; *closed* is an `io::Error` wrapping
//! [`ClosedResource`] so callers can tell "another task closed this" from an
//! error the operating system reported.

use std::fmt;
use std::io;

/// The resource was closed by another task while this task was waiting on it
/// (through `lowlevel::notify_closing`, or by closing a handle with
/// overlapped I/O in flight).
///
/// It arrives inside an `io::Error`; test for it with [`is_closed_resource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClosedResource;

impl fmt::Display for ClosedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("another task closed this resource while this task was waiting on it")
    }
}

impl std::error::Error for ClosedResource {}

/// Whether `e` says "another task closed this resource" ([`ClosedResource`]).
pub fn is_closed_resource(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<ClosedResource>().is_some())
}

/// The error a waiter receives when the resource is closed under it.
pub(crate) fn closed_resource() -> io::Error {
    io::Error::other(ClosedResource)
}

/// The error a second waiter in the same direction receives.
pub(crate) fn resource_busy(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!("another task is already waiting {what}"),
    )
}

/// The busy error of a second readiness waiter on one socket.
pub(crate) fn socket_busy(interest: crate::driver::Interest) -> io::Error {
    resource_busy(match interest {
        crate::driver::Interest::Read => "to read this socket",
        crate::driver::Interest::Write => "to write this socket",
    })
}

/// A copy of `e` for a second recipient (`io::Error` is not `Clone`): OS
/// errors are rebuilt from their code, others from their kind and text.
pub(crate) fn copy_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None if is_closed_resource(e) => closed_resource(),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// An NTSTATUS as the Win32 error it maps to (`RtlNtStatusToDosError`), so
/// `io::Error::raw_os_error` and `kind` read as they do for Win32 calls.
#[cfg(windows)]
pub(crate) fn ntstatus_error(status: windows_sys::Win32::Foundation::NTSTATUS) -> io::Error {
    io::Error::from_raw_os_error(ntstatus_to_win32(status) as i32)
}

/// `RtlNtStatusToDosError`: the Win32 code of an NTSTATUS.
#[cfg(windows)]
pub(crate) fn ntstatus_to_win32(status: windows_sys::Win32::Foundation::NTSTATUS) -> u32 {
    // SAFETY: a pure translation-table lookup with no preconditions.
    unsafe { windows_sys::Win32::Foundation::RtlNtStatusToDosError(status) }
}

/// Refuses a file operation of `len` bytes at `pos` that would reach past
/// `i64::MAX`, the largest file offset on both platforms, with a clear
/// `InvalidInput` before anything is submitted (the kernels' own answers
/// differ: Linux says `EINVAL`, Windows error 87, and Wine even queues a
/// completion for the refused call). A `len` of 0 only needs `pos` itself
/// in range.
// Until the Linux path (sys/unix/fs.rs) calls it too.
pub(crate) fn check_file_range(pos: u64, len: usize) -> io::Result<()> {
    let max = i64::MAX as u64;
    match pos.checked_add(len as u64) {
        Some(end) if end <= max => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "file range of {len} byte(s) at offset {pos} reaches past the largest file \
                 offset, {max}"
            ),
        )),
    }
}

/// The error of an operation on a handle whose runtime has been dropped.
#[cfg(windows)]
pub(crate) fn port_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "oneport: this handle was registered with the completion port of a runtime that has \
         been dropped; a handle stays bound to that port for life, so open it again on this \
         runtime",
    )
}

/// The error of an operation on a handle bound to another runtime's port.
#[cfg(windows)]
pub(crate) fn other_port() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "oneport: this handle is registered with another runtime's completion port; a handle \
         is bound to one port for life, so use it on the runtime that opened it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ranges_past_the_largest_offset_are_refused() {
        let max = i64::MAX as u64;
        assert!(check_file_range(0, 1 << 40).is_ok());
        assert!(check_file_range(max, 0).is_ok());
        assert!(check_file_range(max - 4, 4).is_ok());
        for (pos, len) in [(max - 4, 8), (max + 1, 0), (u64::MAX, 1), (u64::MAX - 4, 8)] {
            let e = check_file_range(pos, len).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{pos} + {len}");
            assert_eq!(e.raw_os_error(), None);
            assert!(e.to_string().contains("largest file offset"), "{e}");
        }
    }

    #[test]
    fn closed_resource_is_recognised_and_others_are_not() {
        assert!(is_closed_resource(&closed_resource()));
        assert!(!is_closed_resource(&io::Error::other("x")));
        assert!(!is_closed_resource(&io::Error::from_raw_os_error(1)));
        assert_eq!(resource_busy("to read").kind(), io::ErrorKind::ResourceBusy);
        assert!(is_closed_resource(&copy_error(&closed_resource())));
        assert_eq!(
            copy_error(&io::Error::from_raw_os_error(9)).raw_os_error(),
            Some(9)
        );
        let other = copy_error(&io::Error::new(io::ErrorKind::TimedOut, "late"));
        assert_eq!(
            (other.kind(), other.to_string()),
            (io::ErrorKind::TimedOut, "late".into())
        );
    }
}
