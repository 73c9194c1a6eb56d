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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_resource_is_recognised_and_others_are_not() {
        assert!(is_closed_resource(&closed_resource()));
        assert!(!is_closed_resource(&io::Error::other("x")));
        assert!(!is_closed_resource(&io::Error::from_raw_os_error(1)));
        assert_eq!(resource_busy("to read").kind(), io::ErrorKind::ResourceBusy);
    }
}
