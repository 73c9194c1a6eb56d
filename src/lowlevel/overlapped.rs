//! Overlapped I/O on the runtime's completion port (Windows only).
//!
//! Trio's `register_with_iocp` / `readinto_overlapped` / `write_overlapped`
//! / `wait_overlapped`, made safe for Rust futures: every operation *owns*
//! its `OVERLAPPED` and its buffers, which the runtime's driver keeps at a
//! fixed address until the completion packet is dequeued, even when the
//! future is dropped first. That is why buffers are passed by value and come
//! back with the result: `(io::Result<usize>, B)`.
//!
//! Dropping a future cancels its operation (`CancelIoEx`); the bytes may
//! still have been transferred if the kernel finished first (a read consumed
//! them, a write wrote them), exactly as on Windows itself.
//!
//! A handle must be registered once, with [`register_with_iocp`], before any
//! operation on it; forgetting it makes operations never complete (and the
//! runtime panics with a message saying so when it can tell).

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use windows_sys::Win32::Foundation::{ERROR_HANDLE_EOF, ERROR_MORE_DATA};
use windows_sys::Win32::Storage::FileSystem::{ReadFile, WriteFile};
use windows_sys::Win32::System::IO::OVERLAPPED;

use super::RawHandle;
use crate::buf::{self, IoBuf, IoBufMut};
use crate::driver::windows::Outcome;
use crate::driver::{Completions as _, OpId, OpWaiter as WaiterId};
use crate::runtime::{self, Inner};

/// Associates `handle` with the current runtime's completion port, so that
/// overlapped operations on it complete through the runtime
/// (`CreateIoCompletionPort` under oneport's overlapped key, plus
/// `FILE_SKIP_SET_EVENT_ON_HANDLE`).
///
/// The handle must have been opened for overlapped I/O
/// (`FILE_FLAG_OVERLAPPED`). A handle can be associated with one port only,
/// for its whole life: register it once, and use it only on this runtime.
/// Do not set `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS` on it: oneport waits
/// for a completion packet even when a call succeeds at once.
///
/// # Panics
/// When called outside a oneport runtime.
pub fn register_with_iocp(handle: RawHandle) -> io::Result<()> {
    runtime::current("oneport::lowlevel::register_with_iocp")
        .driver()
        .register_handle(handle)
}

/// Reads from `handle` at `offset` into the spare capacity of `buf` (from
/// `buf.len()` up to its capacity) and extends its length by the bytes read.
///
/// Returns `Ok(0)` at or past end of file. With no spare capacity the call
/// is still made, with length 0: a file returns `Ok(0)` at once, while a
/// pipe waits until data is available (a known Windows idiom).
/// On a message-mode pipe, a message longer than the spare capacity fills it
/// and returns `Ok(n)`; the rest of the message comes with the next read.
/// `offset` is ignored by handles without a position (pipes). At most
/// `u32::MAX` bytes are read at once.
///
/// The handle must be registered ([`register_with_iocp`]) with this runtime.
/// Dropping the future cancels the read; bytes the kernel had already read
/// by then are lost to the caller, as with `CancelIoEx` on Windows.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn read_overlapped<B: IoBufMut>(
    handle: RawHandle,
    buf: B,
    offset: u64,
) -> (io::Result<usize>, B) {
    // SAFETY: the closure starts one ReadFile on `handle` with the given
    // OVERLAPPED into the spare capacity of the buffer, which the driver owns
    // at a fixed address until the packet is dequeued.
    let (res, mut buf) = unsafe {
        run_op(handle, "read_overlapped", buf, move |ov, buf: &mut B| {
            let (ptr, len) = buf::spare(buf);
            set_offset(ov, offset);
            let len = len.min(u32::MAX as usize) as u32;
            if ReadFile(handle, ptr, len, std::ptr::null_mut(), ov) == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
    .await;
    let result = match res {
        Ok(outcome) => read_result(&outcome),
        Err(e) if e.raw_os_error() == Some(ERROR_HANDLE_EOF as i32) => Ok(0),
        Err(e) => Err(e),
    };
    if let Ok(n) = result {
        let (_, spare) = buf::spare(&mut buf);
        assert!(
            n <= spare,
            "oneport: the kernel reported {n} bytes read into {spare}"
        );
        // SAFETY: the kernel wrote `n` bytes into the spare capacity.
        unsafe { buf::advance(&mut buf, n) };
    }
    (result, buf)
}

/// Rule 22 for reads, plus the two codes that still mean "bytes arrived":
/// end of file is `Ok(0)`, and `ERROR_MORE_DATA` (a message-mode pipe
/// message longer than the buffer) delivers the part that fit.
pub(crate) fn read_result(o: &Outcome) -> io::Result<usize> {
    match o.win32_error() {
        Some(ERROR_HANDLE_EOF) => Ok(0),
        Some(ERROR_MORE_DATA) => Ok(o.bytes),
        _ => o.result(),
    }
}

/// Writes the initialised bytes of `buf` to `handle` at `offset` and returns
/// how many were written (at most `u32::MAX` at once).
///
/// The offset goes to the kernel as is, with the meanings Windows gives it:
/// `u64::MAX` writes at the end of the file.
///
/// `offset` is ignored by handles without a position (pipes). The handle
/// must be registered ([`register_with_iocp`]) with this runtime. Dropping
/// the future cancels the write; some bytes may have been written already.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn write_overlapped<B: IoBuf>(
    handle: RawHandle,
    buf: B,
    offset: u64,
) -> (io::Result<usize>, B) {
    // SAFETY: the closure starts one WriteFile on `handle` with the given
    // OVERLAPPED from the buffer the driver owns until the packet arrives.
    let (res, buf) = unsafe {
        run_op(handle, "write_overlapped", buf, move |ov, buf: &mut B| {
            set_offset(ov, offset);
            let len = buf.bytes_init().min(u32::MAX as usize) as u32;
            if WriteFile(handle, buf.stable_ptr(), len, std::ptr::null_mut(), ov) == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
    .await;
    (res.and_then(|o| o.result()), buf)
}

/// Starts any overlapped call on `handle` and waits for its completion:
/// the escape hatch for what oneport does not wrap (`DeviceIoControl`,
/// `ConnectNamedPipe`, `LockFileEx`, ...).
///
/// `resources` are moved to a heap block at a fixed address, next to the
/// operation's `OVERLAPPED`, and owned by the runtime until the completion
/// packet is dequeued; `submit` receives pointers to both and makes the call.
/// It returns `Ok(())` when the call succeeded, or
/// `Err(io::Error::last_os_error())` when it returned failure.
/// `ERROR_IO_PENDING` means the operation is under way. After any other
/// error the runtime asks its port, without waiting, whether the call queued
/// a completion packet anyway (NT warning statuses such as `ERROR_MORE_DATA`
/// do, and Wine does for some refused file calls): if it did, the result is
/// that packet's; if not, the error comes back at once with the resources.
/// The result is the byte count of the completion, or its error (WINDOWS.md
/// rule 22; an abort caused by another task closing the handle is a
/// [`ClosedResource`](crate::ClosedResource) error).
///
/// The `OVERLAPPED` type is windows-sys 0.61's; `.cast()` the pointer for
/// other bindings. For more control (waiting from several places, explicit
/// cancellation) use [`OverlappedOp`].
///
/// # Safety
/// - `submit` starts at most one overlapped operation, on `handle`, using
///   the `OVERLAPPED` it is given (zeroed but for `Internal`, preset to
///   `STATUS_PENDING` as kernel32 does; it may set the offset or other input
///   fields before the call).
/// - That operation reads or writes only memory inside `resources` (whose
///   address is fixed from the moment `submit` is called) or memory that
///   outlives it: once the future is dropped, nothing else is kept alive.
/// - If `submit` reports an error other than `ERROR_IO_PENDING`, the
///   operation is not in progress: it never started, or it finished within
///   the call (any packet it queued is queued before `submit` returns).
/// - `handle` stays open while the operation runs, or is closed (which
///   cancels it); it must not be closed and its value reused meanwhile.
///
/// Forgetting [`register_with_iocp`] is not undefined behaviour, but the
/// operation never completes.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async unsafe fn submit_overlapped<R, F>(
    handle: RawHandle,
    resources: R,
    submit: F,
) -> (io::Result<usize>, R)
where
    R: 'static,
    F: FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
{
    // SAFETY: forwarded from the caller.
    let (res, r) = unsafe { run_op(handle, "submit_overlapped", resources, submit) }.await;
    (res.and_then(|o| o.result()), r)
}

/// Starts an operation, waits for it, takes its outcome and resources back.
///
/// # Safety
/// As for [`submit_overlapped`].
pub(crate) async unsafe fn run_op<R, F>(
    handle: RawHandle,
    what: &'static str,
    resources: R,
    submit: F,
) -> (io::Result<Outcome>, R)
where
    R: 'static,
    F: FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
{
    // SAFETY: forwarded from the caller.
    let op = match unsafe { OverlappedOp::start_named(handle, what, resources, submit) } {
        Ok(op) => op,
        Err((e, r)) => return (Err(e), r),
    };
    // Only this function waits on `op`, so the wait cannot be busy.
    let waited = op.wait().await;
    debug_assert!(waited.is_ok());
    match op.finish_outcome() {
        Ok((outcome, r)) => (Ok(outcome), r),
        Err(_) => unreachable!("oneport: overlapped operation not finished after its wait"),
    }
}

/// Writes `offset` into the OVERLAPPED's Offset/OffsetHigh.
///
/// # Safety
/// `ov` points to a live OVERLAPPED nobody else uses yet.
unsafe fn set_offset(ov: *mut OVERLAPPED, offset: u64) {
    // SAFETY: the caller's promise; writing plain integer union fields.
    unsafe {
        (*ov).Anonymous.Anonymous.Offset = offset as u32;
        (*ov).Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
    }
}

/// One overlapped operation in flight, owned by the caller: the lower-level
/// form of [`submit_overlapped`] (Trio's `wait_overlapped`).
///
/// Several tasks may hold a reference and call [`wait`](Self::wait); only
/// one may wait at a time, a second gets `io::ErrorKind::ResourceBusy` at
/// once. Once finished, [`finish`](Self::finish) gives back the result and
/// the resources. Dropping an `OverlappedOp` before it finished cancels the
/// operation; the runtime keeps its memory until the kernel is done.
pub struct OverlappedOp<R: 'static> {
    rt: Rc<Inner>,
    id: OpId,
    /// The result and resources were taken back: nothing to abandon.
    taken: bool,
    _resources: PhantomData<R>,
}

impl<R: 'static> OverlappedOp<R> {
    /// Starts an overlapped call; see [`submit_overlapped`] for how `submit`
    /// reports what happened. An immediate failure comes back with the
    /// resources.
    ///
    /// # Safety
    /// As for [`submit_overlapped`].
    ///
    /// # Panics
    /// When called outside a oneport runtime.
    pub unsafe fn start<F>(
        handle: RawHandle,
        resources: R,
        submit: F,
    ) -> Result<Self, (io::Error, R)>
    where
        F: FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
    {
        // SAFETY: forwarded from the caller.
        unsafe { Self::start_named(handle, "an OverlappedOp", resources, submit) }
    }

    /// [`start`](Self::start) with a name for messages.
    ///
    /// # Safety
    /// As for [`submit_overlapped`].
    pub(crate) unsafe fn start_named<F>(
        handle: RawHandle,
        what: &'static str,
        resources: R,
        submit: F,
    ) -> Result<Self, (io::Error, R)>
    where
        F: FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
    {
        let rt = runtime::current("oneport::lowlevel overlapped I/O");
        // SAFETY: forwarded from the caller.
        let id = unsafe { rt.driver().submit_op(handle, what, resources, submit) }?;
        Ok(OverlappedOp {
            rt,
            id,
            taken: false,
            _resources: PhantomData,
        })
    }

    /// Waits until the operation's completion has arrived. A second waiter
    /// while one waits gets `ResourceBusy`; dropping the wait does not
    /// cancel the operation.
    pub fn wait(&self) -> WaitOverlapped<'_, R> {
        WaitOverlapped {
            op: self,
            waiter: self.rt.driver().new_op_waiter(),
        }
    }

    /// Whether the completion has arrived.
    pub fn is_finished(&self) -> bool {
        self.rt.driver().is_op_done(self.id)
    }

    /// Asks the kernel to cancel the operation (`CancelIoEx`). Its
    /// completion still arrives: with `ERROR_OPERATION_ABORTED` (995) if the
    /// cancel took effect, with its real result if it had finished.
    pub fn cancel(&self) {
        self.rt.driver().cancel_op(self.id);
    }

    /// The result and the resources, once finished; `Err(self)` before.
    pub fn finish(self) -> Result<(io::Result<usize>, R), Self> {
        self.finish_outcome().map(|(o, r)| (o.result(), r))
    }

    /// Like [`finish`](Self::finish), with the raw outcome.
    pub(crate) fn finish_outcome(mut self) -> Result<(Outcome, R), Self> {
        match self.rt.driver().take_op::<R>(self.id) {
            Some(done) => {
                self.taken = true;
                Ok(done)
            }
            None => Err(self),
        }
    }
}

impl<R: 'static> Drop for OverlappedOp<R> {
    fn drop(&mut self) {
        if !self.taken {
            self.rt.driver().abandon_op(self.id);
        }
    }
}

impl<R: 'static> std::fmt::Debug for OverlappedOp<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlappedOp")
            .field("overlapped", &(self.id as *const OVERLAPPED))
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// The future of [`OverlappedOp::wait`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitOverlapped<'a, R: 'static> {
    op: &'a OverlappedOp<R>,
    waiter: WaiterId,
}

impl<R: 'static> Future for WaitOverlapped<'_, R> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.op
            .rt
            .driver()
            .poll_op(self.op.id, self.waiter, cx.waker())
    }
}

impl<R: 'static> Drop for WaitOverlapped<'_, R> {
    fn drop(&mut self) {
        self.op.rt.driver().stop_waiting_op(self.op.id, self.waiter);
    }
}

impl<R: 'static> std::fmt::Debug for WaitOverlapped<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOverlapped")
            .field("op", self.op)
            .finish()
    }
}

/// The runtime whose port a handle was registered with (WINDOWS.md rule 19:
/// one port per handle, for life). oneport's own handle types keep one and
/// check it before every operation, so that a `Send` type moved to another
/// runtime, or used after its runtime was dropped, gets a clear error
/// instead of a packet on the wrong port (a hang here, a panic there).
#[derive(Clone, Debug)]
pub(crate) struct PortBinding(std::sync::Weak<crate::driver::windows::PortTag>);

impl PortBinding {
    /// Registers `handle` with the current runtime's port
    /// ([`register_with_iocp`]) and remembers that runtime.
    ///
    /// # Panics
    /// When called outside a oneport runtime.
    pub(crate) fn register(handle: RawHandle) -> io::Result<PortBinding> {
        let rt = runtime::current("oneport::lowlevel::register_with_iocp");
        rt.driver().register_handle(handle)?;
        Ok(PortBinding(std::sync::Arc::downgrade(
            rt.driver().port_tag(),
        )))
    }

    /// `Ok` when the current runtime is the one the handle is bound to.
    ///
    /// # Panics
    /// When called outside a oneport runtime.
    pub(crate) fn check(&self) -> io::Result<()> {
        let rt = runtime::current("oneport overlapped I/O");
        match self.0.upgrade() {
            None => Err(crate::error::port_gone()),
            Some(tag) if std::sync::Arc::ptr_eq(&tag, rt.driver().port_tag()) => Ok(()),
            Some(_) => Err(crate::error::other_port()),
        }
    }
}
