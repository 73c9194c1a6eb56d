//! One `IOCTL_AFD_POLL` request: its structures, submission and cancel.
//!
//! windows-sys does not describe the AFD driver's poll interface, so the few
//! structures it needs are declared here (their layout is the one `ws2_32`
//! itself sends to `\Device\Afd`). A request ([`PollOp`]) is boxed and
//! leaked while the kernel owns it: its `IO_STATUS_BLOCK` and poll-info
//! buffer must stay at a fixed address until the completion packet is
//! dequeued, whatever happens to the socket or the waiters meanwhile
//! (WINDOWS.md rules 12 and 20). The packet's `lpOverlapped` is the address
//! of the box, which is also the address of its `IO_STATUS_BLOCK` (the first
//! field): that is the name `CancelIoEx` knows the request by.

use std::fmt;
use std::io;
use std::ptr::NonNull;

use windows_sys::Wdk::System::IO::NtDeviceIoControlFile;
use windows_sys::Win32::Foundation::{ERROR_NOT_FOUND, HANDLE, NTSTATUS, STATUS_PENDING};
use windows_sys::Win32::System::IO::{CancelIoEx, IO_STATUS_BLOCK, OVERLAPPED};

use crate::driver::RawSock;
pub(crate) use crate::error::ntstatus_error;

/// `IOCTL_AFD_POLL`: `CTL_CODE(FILE_DEVICE_NETWORK = 0x12, 9, METHOD_BUFFERED,
/// FILE_ANY_ACCESS)`.
const IOCTL_AFD_POLL: u32 = 0x0001_2024;

/// The AFD poll event bits, with a `Debug` that names them.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Events(pub(crate) u32);

impl Events {
    pub(crate) const NONE: Events = Events(0);
    pub(crate) const RECEIVE: Events = Events(0x0001);
    pub(crate) const RECEIVE_EXPEDITED: Events = Events(0x0002);
    pub(crate) const SEND: Events = Events(0x0004);
    pub(crate) const DISCONNECT: Events = Events(0x0008);
    pub(crate) const ABORT: Events = Events(0x0010);
    pub(crate) const LOCAL_CLOSE: Events = Events(0x0020);
    pub(crate) const ACCEPT: Events = Events(0x0080);
    pub(crate) const CONNECT_FAIL: Events = Events(0x0100);

    /// What wakes a reader (WINDOWS.md rule 10): data, a connection to
    /// accept, end of stream, a reset, or the socket being closed.
    pub(crate) const READABLE: Events = Events(
        Self::RECEIVE.0 | Self::ACCEPT.0 | Self::DISCONNECT.0 | Self::ABORT.0 | Self::LOCAL_CLOSE.0,
    );
    /// What wakes a writer: room to send (also a successful connect), a
    /// failed connect, a reset, or the socket being closed.
    pub(crate) const WRITABLE: Events =
        Events(Self::SEND.0 | Self::CONNECT_FAIL.0 | Self::ABORT.0 | Self::LOCAL_CLOSE.0);

    pub(crate) fn intersects(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(Events, &str); 8] = [
            (Events::RECEIVE, "RECEIVE"),
            (Events::RECEIVE_EXPEDITED, "RECEIVE_EXPEDITED"),
            (Events::SEND, "SEND"),
            (Events::DISCONNECT, "DISCONNECT"),
            (Events::ABORT, "ABORT"),
            (Events::LOCAL_CLOSE, "LOCAL_CLOSE"),
            (Events::ACCEPT, "ACCEPT"),
            (Events::CONNECT_FAIL, "CONNECT_FAIL"),
        ];
        let mut rest = self.0;
        let mut first = true;
        for (bit, name) in NAMES {
            if self.intersects(bit) {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                rest &= !bit.0;
                first = false;
            }
        }
        if rest != 0 || first {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

/// `AFD_POLL_HANDLE_INFO`: one socket of a poll request.
#[repr(C)]
struct AfdPollHandleInfo {
    handle: HANDLE,
    events: u32,
    status: NTSTATUS,
}

/// `AFD_POLL_INFO` with room for exactly one socket (oneport never polls
/// several sockets in one request: each socket has its own poll).
#[repr(C)]
struct AfdPollInfo {
    timeout: i64,
    number_of_handles: u32,
    exclusive: u32,
    handles: [AfdPollHandleInfo; 1],
}

/// Everything the kernel writes for one poll. `iosb` must stay first: its
/// address is the request's identity for `CancelIoEx` and the packet.
#[repr(C)]
pub(crate) struct PollOp {
    iosb: IO_STATUS_BLOCK,
    info: AfdPollInfo,
}

/// How a dequeued poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The request's final status (`STATUS_SUCCESS`, `STATUS_CANCELLED`, ...).
    pub(crate) status: NTSTATUS,
    /// The events reported for the socket (empty unless the status is
    /// success).
    pub(crate) events: Events,
}

impl Outcome {
    /// The status as an `io::Error`, or `None` for success.
    pub(crate) fn error(&self) -> Option<io::Error> {
        (self.status != 0).then(|| ntstatus_error(self.status))
    }
}

/// Whether `status` is of the error class (severity 3): the request failed
/// before it was queued and no completion packet will follow. Success,
/// informational and warning statuses (and `STATUS_PENDING`) all queue one.
fn is_nt_error(status: NTSTATUS) -> bool {
    (status as u32) >> 30 == 3
}

/// Submits a poll for `events` on `sock` through the AFD helper handle
/// `afd` (associated with the port under key 0).
///
/// On `Ok` the request belongs to the kernel until its completion packet,
/// whose `lpOverlapped` is the returned pointer, has been dequeued; only
/// then may [`reclaim`] be called. On `Err` nothing is in flight.
///
/// # Safety
/// `afd` must be an open AFD helper handle associated with a completion
/// port, so that a packet is queued for every request that is accepted.
pub(crate) unsafe fn submit(
    afd: HANDLE,
    sock: RawSock,
    events: Events,
) -> io::Result<NonNull<PollOp>> {
    let op = Box::new(PollOp {
        iosb: IO_STATUS_BLOCK {
            Anonymous: windows_sys::Win32::System::IO::IO_STATUS_BLOCK_0 {
                Status: STATUS_PENDING,
            },
            Information: 0,
        },
        info: AfdPollInfo {
            // The largest timeout: the poll waits until an event or a cancel.
            timeout: i64::MAX,
            number_of_handles: 1,
            exclusive: 0,
            handles: [AfdPollHandleInfo {
                handle: sock as HANDLE,
                events: events.0,
                status: 0,
            }],
        },
    });
    let raw = Box::into_raw(op);
    // SAFETY: `raw` is a live, leaked allocation; the kernel may write its
    // status block and info buffer until the packet naming `raw` is
    // dequeued, and the caller keeps it alive until then. The info buffer
    // is both input and output, as the AFD driver expects.
    let status = unsafe {
        let info = std::ptr::addr_of_mut!((*raw).info);
        NtDeviceIoControlFile(
            afd,
            std::ptr::null_mut(),
            None,
            raw as *const core::ffi::c_void,
            std::ptr::addr_of_mut!((*raw).iosb),
            IOCTL_AFD_POLL,
            info as *const core::ffi::c_void,
            size_of::<AfdPollInfo>() as u32,
            info as *mut core::ffi::c_void,
            size_of::<AfdPollInfo>() as u32,
        )
    };
    if is_nt_error(status) {
        // SAFETY: the request was refused: no packet will come and the
        // kernel holds no reference to the allocation.
        drop(unsafe { Box::from_raw(raw) });
        return Err(ntstatus_error(status));
    }
    // Pending, or finished at once (Wine does that): either way a packet
    // naming `raw` is queued, and the allocation stays leaked until then.
    // SAFETY: `Box::into_raw` never returns null.
    Ok(unsafe { NonNull::new_unchecked(raw) })
}

/// Asks the kernel to finish the poll `op` early. A poll that has already
/// finished (`ERROR_NOT_FOUND`) is fine: its packet is on its way.
///
/// # Safety
/// `op` must be a request submitted on `afd` whose packet has not been
/// dequeued (the pointer is only used as a name, never dereferenced).
pub(crate) unsafe fn cancel(afd: HANDLE, op: NonNull<PollOp>) -> io::Result<()> {
    // SAFETY: `afd` is open; `op` names a request of that handle.
    if unsafe { CancelIoEx(afd, op.as_ptr() as *const OVERLAPPED) } == 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(ERROR_NOT_FOUND as i32) {
            return Err(e);
        }
    }
    Ok(())
}

/// How `op` ended if the kernel has already finished it, before its packet
/// is dequeued (`HasOverlappedIoCompleted`); `None` while it is pending.
/// The memory stays the driver's to free only after the packet: this only
/// reads what the kernel wrote last.
///
/// # Safety
/// `op` came from [`submit`] and has not been reclaimed.
pub(crate) unsafe fn peek(op: NonNull<PollOp>) -> Option<Outcome> {
    let raw = op.as_ptr();
    // SAFETY: the allocation is live (not reclaimed); the kernel writes the
    // status last, so a volatile read of it is the documented way to ask
    // whether it is done, and once it is done nothing writes the rest.
    let status =
        unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*raw).iosb.Anonymous.Status)) };
    if status == STATUS_PENDING {
        return None;
    }
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    // SAFETY: as above; the kernel is done with the info buffer.
    let events =
        unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*raw).info.handles[0].events)) };
    Some(Outcome {
        status,
        events: if status == 0 {
            Events(events)
        } else {
            Events::NONE
        },
    })
}

/// Frees a finished request and reports how it ended.
///
/// # Safety
/// The completion packet naming `op` has been dequeued (the kernel is done
/// with it), and `op` came from [`submit`] and is reclaimed only once.
pub(crate) unsafe fn reclaim(op: NonNull<PollOp>) -> Outcome {
    // SAFETY: per the contract, we own the allocation again.
    let op = unsafe { Box::from_raw(op.as_ptr()) };
    // SAFETY: the kernel wrote the status into the union's status member.
    let status = unsafe { op.iosb.Anonymous.Status };
    let events = if status == 0 && op.info.number_of_handles >= 1 {
        Events(op.info.handles[0].events)
    } else {
        Events::NONE
    };
    Outcome { status, events }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_sets_follow_the_rules_and_print_readably() {
        assert_eq!(
            Events::READABLE.0,
            0x0001 | 0x0080 | 0x0008 | 0x0010 | 0x0020
        );
        assert_eq!(Events::WRITABLE.0, 0x0004 | 0x0100 | 0x0010 | 0x0020);
        assert_eq!(format!("{:?}", Events::SEND | Events::ABORT), "SEND|ABORT");
        assert_eq!(format!("{:?}", Events(0x1 | 0x4000)), "RECEIVE|0x4000");
        assert_eq!(format!("{:?}", Events::NONE), "0x0");
    }

    #[test]
    fn error_class_statuses_are_told_from_queued_ones() {
        use windows_sys::Win32::Foundation::{STATUS_CANCELLED, STATUS_HANDLES_CLOSED};
        assert!(!is_nt_error(0));
        assert!(!is_nt_error(STATUS_PENDING));
        assert!(!is_nt_error(STATUS_HANDLES_CLOSED));
        assert!(is_nt_error(STATUS_CANCELLED));
        assert_eq!(ntstatus_error(STATUS_CANCELLED).raw_os_error(), Some(995));
    }

    #[test]
    fn the_poll_info_has_the_layout_afd_expects() {
        assert_eq!(size_of::<AfdPollHandleInfo>(), 16);
        assert_eq!(size_of::<AfdPollInfo>(), 32);
        assert_eq!(std::mem::offset_of!(PollOp, iosb), 0);
    }
}
