//! AFD helper handles, in groups of at most 500 polls each.
//!
//! A poll is submitted through a handle to the AFD driver itself
//! (`\Device\Afd\oneport`, opened like a file), not through the socket: the
//! handle is associated with the completion port under key 0, so every poll
//! on it ends as a key-0 packet. Handles are opened lazily, when a poll
//! needs room, and kept until the driver is dropped.
//!
//! Why groups (WINDOWS.md rule 9): cancelling one of N polls pending on one
//! handle costs O(N) in the Windows kernel, so unwinding N sockets on a
//! single handle costs O(N²). At most [`MAX_POLLS_PER_HANDLE`] polls share a
//! handle; the first handle with room is used before a new one is opened.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_OVERLAPPED, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
    SYNCHRONIZE,
};
use windows_sys::Win32::System::IO::{CancelIoEx, CreateIoCompletionPort};

use crate::driver::windows::keys::KEY_AFD;

/// Polls in flight (stale ones included) on one helper handle at most.
pub(crate) const MAX_POLLS_PER_HANDLE: usize = 500;

/// The AFD device, reached through the object namespace. The last component
/// is a name of our choosing; AFD ignores it (it shows in handle listings).
const AFD_PATH: &str = r"\\.\GLOBALROOT\Device\Afd\oneport";

struct Group {
    handle: OwnedHandle,
    in_flight: usize,
}

/// The helper handles of one driver, all associated with its port.
pub(crate) struct Groups {
    port: HANDLE,
    groups: Vec<Group>,
}

impl Groups {
    /// No handle is opened until a poll needs one.
    pub(crate) fn new(port: HANDLE) -> Groups {
        Groups {
            port,
            groups: Vec::new(),
        }
    }

    /// Reserves room for one poll: the index and handle of the first group
    /// with room, opening a new one if all are full.
    pub(crate) fn acquire(&mut self) -> io::Result<(usize, HANDLE)> {
        let index = match self
            .groups
            .iter()
            .position(|g| g.in_flight < MAX_POLLS_PER_HANDLE)
        {
            Some(i) => i,
            None => {
                let handle = open_afd(self.port)?;
                self.groups.push(Group {
                    handle,
                    in_flight: 0,
                });
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[index];
        g.in_flight += 1;
        Ok((index, g.handle.as_raw_handle() as HANDLE))
    }

    /// Gives back the room of a poll whose packet was dequeued (or that was
    /// never submitted).
    pub(crate) fn release(&mut self, index: usize) {
        let g = &mut self.groups[index];
        g.in_flight = g
            .in_flight
            .checked_sub(1)
            .expect("oneport: AFD group count underflow");
    }

    /// The helper handle of group `index`.
    pub(crate) fn handle(&self, index: usize) -> HANDLE {
        self.groups[index].handle.as_raw_handle() as HANDLE
    }

    /// Helper handles open.
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Cancels every poll of every handle and closes the handles: each poll
    /// still pending then completes (`STATUS_CANCELLED`, or
    /// `STATUS_HANDLES_CLOSED` under Wine) and queues its packet.
    pub(crate) fn close_all(&mut self) {
        for g in self.groups.drain(..) {
            // SAFETY: the handle is open; a null OVERLAPPED cancels every
            // request on it, whoever issued it. Failure (nothing pending)
            // is harmless: closing completes whatever remains.
            unsafe { CancelIoEx(g.handle.as_raw_handle() as HANDLE, std::ptr::null()) };
            drop(g.handle);
        }
    }
}

/// Opens one AFD helper handle and associates it with `port` under key 0.
fn open_afd(port: HANDLE) -> io::Result<OwnedHandle> {
    let path: Vec<u16> = AFD_PATH.encode_utf16().chain(Some(0)).collect();
    // SAFETY: `path` is NUL-terminated and lives across the call; no
    // security attributes or template are passed.
    let h = unsafe {
        CreateFileW(
            path.as_ptr(),
            SYNCHRONIZE,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_OVERLAPPED,
            std::ptr::null_mut(),
        )
    };
    if h == INVALID_HANDLE_VALUE {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("oneport: cannot open the AFD helper handle {AFD_PATH}: {e}"),
        ));
    }
    // SAFETY: `h` is a fresh handle that nothing else owns.
    let owned = unsafe { OwnedHandle::from_raw_handle(h as _) };
    // SAFETY: both handles are open; the association lasts for the life of
    // `owned`, which the port outlives (the driver drops it first).
    if unsafe { CreateIoCompletionPort(h, port, KEY_AFD, 0) }.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(owned)
}
