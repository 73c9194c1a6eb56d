//! Files on Windows: overlapped I/O on the runtime's completion port.
//!
//! The handle is opened with `FILE_FLAG_OVERLAPPED` and registered with the
//! port once, when it is opened; every read and write is then one overlapped
//! operation owned by the driver (`lowlevel::read_overlapped` /
//! `write_overlapped`), with the offset in its `OVERLAPPED`: no thread, and
//! no shared file position. Completions are always waited for through the
//! port (`FILE_SKIP_COMPLETION_PORT_ON_SUCCESS` is not set: Wine completes
//! file I/O through the pending path anyway).
//!
//! The handle is bound to the port of the runtime that opened it, but
//! `fs::File` is `Send`. Each registration is remembered by handle value
//! (`BOUND`) and checked before every read and write, so a `File` used on
//! another runtime, or after its runtime was dropped, gets a clear error.
//! The table is keyed by handle value because `fs::File` (which holds only
//! the standard file) is shared with Linux: an entry is overwritten when a
//! new `File` gets a reused value, so a live `File`'s entry is always its
//! own; entries of closed handles stay, a few bytes each, until reused.
//!
//! A dropped read is cancelled as `lowlevel` cancels any overlapped
//! operation (`CancelIoEx`; the driver owns the buffer until the kernel is
//! done). A dropped write is not: once `WriteFile` was called, cancelling
//! may or may not stop it, so its effect would be unknown and it could even
//! complete after a later write to the same bytes. Instead the dropped
//! write's operation is moved into a task of its own that waits for its
//! completion, and the file's fence holds every later call until then. A
//! write dropped before its first poll never reached the kernel and does
//! nothing. Outside a runtime (no task to move it to), or when the runtime
//! itself is dropped, the write is cancelled after all.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_IO_PENDING};
use windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OVERLAPPED;
use windows_sys::Win32::System::Ioctl::FSCTL_SET_SPARSE;
use windows_sys::Win32::System::Threading::CreateEventW;
use windows_sys::Win32::System::IO::{DeviceIoControl, GetOverlappedResult, OVERLAPPED};

use crate::buf::{IoBuf, IoBufMut};
use crate::error::check_file_range;
use crate::lowlevel::overlapped::PortBinding;
use crate::lowlevel::{read_overlapped, write_overlapped};
use crate::runtime::fence::{Fence, FireOnDrop, Signal};

/// The port each open `File`'s handle is bound to, by handle value.
static BOUND: Mutex<Option<HashMap<usize, PortBinding>>> = Mutex::new(None);

/// Checks that `file`'s handle is bound to the current, living runtime.
fn check_bound(file: &std::fs::File) -> io::Result<()> {
    let key = file.as_raw_handle() as usize;
    let binding = BOUND
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(&key).cloned());
    match binding {
        Some(b) => b.check(),
        None => Err(io::Error::other(
            "oneport: internal error: a file's handle has no recorded port",
        )),
    }
}

pub(crate) fn add_open_flags(o: &mut std::fs::OpenOptions) {
    use std::os::windows::fs::OpenOptionsExt;
    o.custom_flags(FILE_FLAG_OVERLAPPED);
}

/// Registers the freshly opened handle with this runtime's port.
pub(crate) fn prepare(file: &std::fs::File) -> io::Result<()> {
    let binding = PortBinding::register(file.as_raw_handle())?;
    BOUND
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(file.as_raw_handle() as usize, binding);
    Ok(())
}

pub(crate) async fn read_at<B: IoBufMut>(
    file: &Arc<std::fs::File>,
    _fence: &Arc<Fence>,
    buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    // What read_overlapped asks for: the spare capacity, at most u32::MAX.
    let len = (buf.bytes_total() - buf.bytes_init()).min(u32::MAX as usize);
    if let Err(e) = check_file_range(pos, len).and_then(|()| check_bound(file)) {
        return (Err(e), buf);
    }
    read_overlapped(file.as_raw_handle(), buf, pos).await
}

pub(crate) async fn write_at<B: IoBuf>(
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    let len = buf.bytes_init().min(u32::MAX as usize);
    if let Err(e) = check_file_range(pos, len).and_then(|()| check_bound(file)) {
        return (Err(e), buf);
    }
    OrderedWrite {
        op: Some(Box::pin(write_overlapped(file.as_raw_handle(), buf, pos))),
        started: false,
        file: file.clone(),
        fence: fence.clone(),
    }
    .await
}

/// A write that, if dropped once started, completes in a task of its own
/// before the file's later calls (see the module docs).
struct OrderedWrite<F: Future + 'static> {
    /// Boxed so that a started operation can move to another task.
    op: Option<Pin<Box<F>>>,
    /// Polled at least once: `WriteFile` may have been called.
    started: bool,
    /// Keeps the handle open until the moved operation is over.
    file: Arc<std::fs::File>,
    fence: Arc<Fence>,
}

impl<F: Future + 'static> Future for OrderedWrite<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.started = true;
        let op = self
            .op
            .as_mut()
            .expect("oneport: OrderedWrite polled after completion");
        let out = std::task::ready!(op.as_mut().poll(cx));
        self.op = None;
        Poll::Ready(out)
    }
}

impl<F: Future + 'static> Drop for OrderedWrite<F> {
    fn drop(&mut self) {
        let Some(op) = self.op.take() else { return };
        if !self.started {
            return;
        }
        let Some(rt) = crate::runtime::try_current() else {
            return; // no runtime to finish it on: dropping cancels it
        };
        let done = FireOnDrop(Signal::new());
        self.fence.push(done.0.clone());
        let file = self.file.clone();
        rt.spawn(async move {
            let _done = done;
            let _ = op.await;
            drop(file);
        })
        .detach();
    }
}

/// `FlushFileBuffers` on the blocking pool (`data_only` makes no
/// difference on Windows).
pub(crate) async fn sync(
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    data_only: bool,
) -> io::Result<()> {
    let file = file.clone();
    crate::runtime::spawn_blocking_fenced(fence, move || {
        if data_only {
            file.sync_data()
        } else {
            file.sync_all()
        }
    })
    .await
}

/// `FSCTL_SET_SPARSE`, synchronously (this runs on the blocking pool).
///
/// The handle is overlapped and registered, so the ioctl needs an
/// `OVERLAPPED`; its event handle has the low bit set, which tells the kernel
/// not to queue a completion packet to the port, and the call waits on the
/// event instead. (Wine queues no packet for this ioctl at all, so it could
/// not go through the port anyway.)
pub(crate) fn set_sparse(file: &std::fs::File) -> io::Result<()> {
    // SAFETY: a manual-reset, unnamed event with default security.
    let event = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
    if event.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut ov = OVERLAPPED {
        hEvent: (event as usize | 1) as _,
        ..OVERLAPPED::default()
    };
    let mut bytes = 0u32;
    let h = file.as_raw_handle();
    // SAFETY: `ov` and `bytes` live on this stack frame until
    // GetOverlappedResult (waiting) has returned, i.e. until the kernel is
    // done with them; no buffers are passed.
    let result = unsafe {
        let ok = DeviceIoControl(
            h,
            FSCTL_SET_SPARSE,
            std::ptr::null(),
            0,
            std::ptr::null_mut(),
            0,
            &mut bytes,
            &mut ov,
        );
        let submit_error = (ok == 0).then(io::Error::last_os_error);
        if let Some(e) = submit_error.filter(|e| e.raw_os_error() != Some(ERROR_IO_PENDING as i32))
        {
            Err(e)
        } else if GetOverlappedResult(h, &ov, &mut bytes, 1) == 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: the event is ours and no longer used.
    unsafe { CloseHandle(event) };
    result
}
