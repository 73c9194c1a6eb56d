//! The memory of one overlapped operation, and what its completion means.
//!
//! An operation is one heap block, `OpMem<R>`: the `OVERLAPPED` first (so the
//! block's address *is* the `lpOverlapped` the kernel reports back), then the
//! resources `R` the kernel may read or write (the buffer, ioctl input and
//! output, ...). The block is created with `Box::into_raw` and only turned
//! back into a `Box` once the kernel can no longer touch it: after its
//! completion packet was dequeued, or when submission failed. In between the
//! driver holds only the raw pointer (never a `&mut`), because the kernel
//! writes through it concurrently.

use std::any::TypeId;
use std::io;

use windows_sys::Win32::Foundation::{ERROR_OPERATION_ABORTED, NTSTATUS};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// The heap block of one operation. `repr(C)` with the `OVERLAPPED` first,
/// so a pointer to the block and a pointer to its `OVERLAPPED` are the same.
#[repr(C)]
pub(crate) struct OpMem<R> {
    pub(crate) overlapped: OVERLAPPED,
    pub(crate) resources: R,
}

/// An `OpMem<R>` with `R` forgotten: the raw pointer, how to free it, and
/// which `R` it holds (checked when the owner takes it back).
pub(crate) struct ErasedMem {
    ptr: *mut OVERLAPPED,
    free: unsafe fn(*mut OVERLAPPED),
    type_id: TypeId,
}

impl ErasedMem {
    /// Moves `resources` into a fresh block at a fixed address.
    pub(crate) fn new<R: 'static>(resources: R) -> ErasedMem {
        let block = Box::new(OpMem {
            overlapped: OVERLAPPED::default(),
            resources,
        });
        ErasedMem {
            ptr: Box::into_raw(block).cast(),
            free: free_block::<R>,
            type_id: TypeId::of::<R>(),
        }
    }

    /// The operation's `OVERLAPPED` (and the block's address).
    pub(crate) fn ptr(&self) -> *mut OVERLAPPED {
        self.ptr
    }

    /// The resources, for the submit call to take pointers into them.
    ///
    /// # Safety
    /// The kernel must not be using the block (before submission only), and
    /// `R` must be the type the block was created with.
    pub(crate) unsafe fn resources_mut<R: 'static>(&mut self) -> &mut R {
        assert_eq!(
            self.type_id,
            TypeId::of::<R>(),
            "oneport: operation resource type mismatch"
        );
        // SAFETY: the block is an OpMem<R> (checked above) that nobody else
        // accesses now (caller's promise).
        unsafe { &mut (*self.ptr.cast::<OpMem<R>>()).resources }
    }

    /// The NTSTATUS the kernel left in `OVERLAPPED.Internal` (still the
    /// `STATUS_PENDING` preset before the call if it wrote nothing).
    ///
    /// # Safety
    /// The operation's completion must have been dequeued (the kernel is done
    /// writing the block).
    pub(crate) unsafe fn status(&self) -> NTSTATUS {
        // SAFETY: the block is live and no longer written by the kernel.
        unsafe { (*self.ptr).Internal as u32 as NTSTATUS }
    }

    /// Takes the resources back and frees the block.
    ///
    /// # Safety
    /// The kernel must be done with the block.
    pub(crate) unsafe fn into_resources<R: 'static>(self) -> R {
        assert_eq!(
            self.type_id,
            TypeId::of::<R>(),
            "oneport: operation resource type mismatch"
        );
        // SAFETY: the block came from Box::into_raw of an OpMem<R> (checked
        // above) and the kernel is done with it (caller's promise).
        let block = unsafe { Box::from_raw(self.ptr.cast::<OpMem<R>>()) };
        std::mem::forget(self);
        block.resources
    }

    /// Frees the block and its resources.
    ///
    /// # Safety
    /// The kernel must be done with the block.
    pub(crate) unsafe fn free(self) {
        let (ptr, free) = (self.ptr, self.free);
        std::mem::forget(self);
        // SAFETY: forwarded from the caller; `free` matches the block's type.
        unsafe { free(ptr) }
    }

    /// Gives up on the block for good: it is never freed. For operations the
    /// kernel may still write to when the driver goes away.
    pub(crate) fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for ErasedMem {
    fn drop(&mut self) {
        // Every path must say what happens to the block (free, take back or
        // leak); silently freeing could free memory under the kernel.
        if !std::thread::panicking() {
            panic!("oneport: internal error: an overlapped operation's memory was dropped without a decision");
        }
    }
}

/// # Safety
/// `p` came from `Box::into_raw` of an `OpMem<R>` and the kernel is done.
unsafe fn free_block<R>(p: *mut OVERLAPPED) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { Box::from_raw(p.cast::<OpMem<R>>()) });
}

/// What a dequeued completion said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// `OVERLAPPED.Internal`: the NTSTATUS (0 = success).
    pub(crate) status: NTSTATUS,
    /// Bytes transferred, from the completion packet.
    pub(crate) bytes: usize,
    /// Somebody (the owner, or the driver on behalf of a dropped owner)
    /// asked for this operation to be cancelled.
    pub(crate) cancel_requested: bool,
    /// The operation failed and its handle was found closed when the packet
    /// was dequeued.
    pub(crate) handle_closed: bool,
}

impl Outcome {
    /// The Win32 error code, or `None` on success (WINDOWS.md rule 22).
    pub(crate) fn win32_error(&self) -> Option<u32> {
        if self.status == 0 {
            None
        } else {
            Some(crate::error::ntstatus_to_win32(self.status))
        }
    }

    /// Rule 22: bytes on success; an abort nobody asked for means another
    /// task closed the handle (`ClosedResource`); any other code is the OS
    /// error. Wine completes an operation whose handle is closed under it
    /// with the device's own error (a pipe write with `ERROR_BROKEN_PIPE`)
    /// rather than with an abort, so a failure whose handle turned out to be
    /// closed is also reported as `ClosedResource`.
    pub(crate) fn result(&self) -> io::Result<usize> {
        match self.win32_error() {
            None => Ok(self.bytes),
            Some(_) if self.handle_closed && !self.cancel_requested => {
                Err(crate::error::closed_resource())
            }
            Some(ERROR_OPERATION_ABORTED) if !self.cancel_requested => {
                Err(crate::error::closed_resource())
            }
            Some(code) => Err(io::Error::from_raw_os_error(code as i32)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_CANCELLED: NTSTATUS = 0xC000_0120_u32 as NTSTATUS;
    const STATUS_PIPE_BROKEN: NTSTATUS = 0xC000_014B_u32 as NTSTATUS;

    #[test]
    fn outcomes_map_per_rule_22() {
        let ok = Outcome {
            status: 0,
            bytes: 7,
            cancel_requested: false,
            handle_closed: false,
        };
        assert_eq!(ok.result().unwrap(), 7);
        let closed = Outcome {
            status: STATUS_CANCELLED,
            bytes: 0,
            cancel_requested: false,
            handle_closed: false,
        };
        assert!(crate::is_closed_resource(&closed.result().unwrap_err()));
        let cancelled = Outcome {
            cancel_requested: true,
            ..closed
        };
        assert_eq!(cancelled.result().unwrap_err().raw_os_error(), Some(995));
        let broken = Outcome {
            status: STATUS_PIPE_BROKEN,
            bytes: 0,
            cancel_requested: false,
            handle_closed: false,
        };
        assert_eq!(
            broken.result().unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        let closed_under = Outcome {
            handle_closed: true,
            ..broken
        };
        assert!(crate::is_closed_resource(
            &closed_under.result().unwrap_err()
        ));
    }

    #[test]
    fn memory_round_trips_with_its_type() {
        let mut m = ErasedMem::new(vec![1u8, 2, 3]);
        // SAFETY: never submitted; the type matches.
        unsafe { m.resources_mut::<Vec<u8>>().push(4) };
        assert_eq!(m.ptr().cast::<u8>(), m.ptr().cast::<u8>());
        // SAFETY: never submitted.
        let v: Vec<u8> = unsafe { m.into_resources() };
        assert_eq!(v, [1, 2, 3, 4]);
    }
}
