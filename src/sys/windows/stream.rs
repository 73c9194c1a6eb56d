//! `OverlappedStream`: one pipe handle's owned-buffer overlapped reads and
//! writes, adapted to the `futures_io` traits. Named pipes
//! (`windows::named_pipe`) and a child's pipes (`process`) are both this.
//!
//! # Why an adapter
//!
//! The kernel owns a buffer from submission to completion, so overlapped
//! I/O takes owned buffers (`lowlevel::read_overlapped`); the `futures_io`
//! traits lend a slice for one poll only. The adapter keeps one owned
//! `Vec<u8>` per direction, sized to the caller's request (no fixed
//! internal buffer), and an operation that outlives a dropped future stays
//! here, in the stream, until it is finished by a later poll.
//!
//! # Reads
//!
//! `poll_read` starts one overlapped read of `buf.len()` bytes (a read in
//! flight from an earlier, dropped poll is continued instead); once it
//! completes the bytes are copied out, and any that no longer fit are kept
//! for the next call. No byte read is ever lost to a dropped future. The end
//! of the stream (the other end closed or, for a named pipe, disconnected)
//! reads as `Ok(0)`.
//!
//! # Writes (the one write semantics of every oneport pipe)
//!
//! `poll_write` first finishes the write in flight, if any, and returns its
//! error if it failed (those bytes were accepted earlier; none of the new
//! ones are). Then it copies up to the stream's chunk limit of the
//! caller's bytes, starts one overlapped write of all of them (continuing
//! after short writes) and reports them as accepted at once. A write that
//! fails as it is submitted is reported by this call. So an accepted byte is
//! written unless an error is reported by the next `poll_write`,
//! `poll_flush` or `poll_close`: no error is swallowed, and since
//! `poll_write` never returns `Pending` after taking bytes, a dropped
//! future can never leave bytes half-accepted. `poll_flush` waits for the
//! write in flight. Dropping the stream cancels a write still in flight
//! (flush first).
//!
//! Every operation first checks that it runs on the runtime the handle is
//! bound to (see `lowlevel::overlapped::PortBinding`).

use std::future::Future;
use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle, RawHandle};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use windows_sys::Win32::Foundation::{
    ERROR_BROKEN_PIPE, ERROR_MORE_DATA, ERROR_PIPE_NOT_CONNECTED,
};
use windows_sys::Win32::Storage::FileSystem::{ReadFile, WriteFile};

use crate::buf::{self, IoBuf, IoBufMut};
use crate::lowlevel::overlapped::{run_op, PortBinding};

type BoxedOp<T> = Pin<Box<dyn Future<Output = (io::Result<T>, Vec<u8>)>>>;

enum ReadState {
    Idle(Vec<u8>),
    Reading(BoxedOp<usize>),
    /// Bytes read but not yet handed out.
    Buffered {
        data: Vec<u8>,
        pos: usize,
    },
}

enum WriteState {
    Idle(Vec<u8>),
    Writing(BoxedOp<()>),
}

/// How one message-mode read ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRead {
    /// Bytes read into the buffer.
    pub bytes: usize,
    /// `true` if this read ended the message; `false` if the message was
    /// longer than the buffer's spare capacity and the next read continues
    /// it.
    pub complete: bool,
}

/// One overlapped pipe handle as a byte stream (module docs).
pub(crate) struct OverlappedStream {
    // Field order is drop order: operations before the handle they use.
    read: ReadState,
    write: WriteState,
    /// The port the handle is bound to; `None` until the first operation
    /// for a stream created outside a runtime (a child's pipes).
    binding: Option<PortBinding>,
    /// At most this many bytes are accepted by one `poll_write`.
    max_chunk: usize,
    /// A registration with a port was made or attempted: from then on the
    /// handle may be associated with that port for good (even when the
    /// attempt failed half-way), so it never leaves this stream.
    port_touched: bool,
    handle: OwnedHandle,
}

/// End of stream on a pipe is the peer having closed (or disconnected).
fn is_end_of_stream(code: Option<u32>) -> bool {
    matches!(
        code,
        Some(ERROR_BROKEN_PIPE) | Some(ERROR_PIPE_NOT_CONNECTED)
    )
}

/// One overlapped read into the spare capacity of `buf`, reporting whether
/// a message-mode message was complete. End of stream is `Ok(0)`.
async fn read_raw<B: IoBufMut>(h: RawHandle, mut buf: B) -> (io::Result<MessageRead>, B) {
    if buf::spare(&mut buf).1 == 0 {
        // A zero-byte pipe read would wait for data; like `std`, an empty
        // buffer reads nothing at once.
        return (
            Ok(MessageRead {
                bytes: 0,
                complete: false,
            }),
            buf,
        );
    }
    // SAFETY: one ReadFile on `h` into the spare capacity of the buffer the
    // driver owns at a fixed address until the completion is dequeued.
    let (res, mut buf) = unsafe {
        run_op(h, "pipe read", buf, move |ov, buf: &mut B| {
            let (ptr, len) = buf::spare(buf);
            let len = len.min(u32::MAX as usize) as u32;
            if ReadFile(h, ptr, len, std::ptr::null_mut(), ov) == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
    .await;
    let read = match res {
        Ok(outcome) => match outcome.win32_error() {
            None => Ok(MessageRead {
                bytes: outcome.bytes,
                complete: true,
            }),
            Some(ERROR_MORE_DATA) => Ok(MessageRead {
                bytes: outcome.bytes,
                complete: false,
            }),
            code if is_end_of_stream(code)
                && !outcome.cancel_requested
                && !outcome.handle_closed =>
            {
                Ok(MessageRead {
                    bytes: 0,
                    complete: true,
                })
            }
            _ => outcome.result().map(|bytes| MessageRead {
                bytes,
                complete: true,
            }),
        },
        Err(e) if is_end_of_stream(e.raw_os_error().map(|c| c as u32)) => Ok(MessageRead {
            bytes: 0,
            complete: true,
        }),
        Err(e) => Err(e),
    };
    if let Ok(r) = &read {
        let (_, spare) = buf::spare(&mut buf);
        assert!(
            r.bytes <= spare,
            "oneport: pipe read reported more bytes than asked"
        );
        // SAFETY: the kernel wrote `r.bytes` bytes into the spare capacity.
        unsafe { buf::advance(&mut buf, r.bytes) };
    }
    (read, buf)
}

/// One overlapped write of the initialised bytes of `buf`.
async fn write_raw<B: IoBuf>(h: RawHandle, buf: B) -> (io::Result<usize>, B) {
    // SAFETY: one WriteFile on `h` from the buffer the driver owns until the
    // completion is dequeued.
    let (res, buf) = unsafe {
        run_op(h, "pipe write", buf, move |ov, buf: &mut B| {
            let len = buf.bytes_init().min(u32::MAX as usize) as u32;
            if WriteFile(h, buf.stable_ptr(), len, std::ptr::null_mut(), ov) == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
    .await;
    (res.and_then(|o| o.result()), buf)
}

/// Writes all of `data`, continuing after short writes.
async fn write_all_raw(h: RawHandle, mut data: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    while !data.is_empty() {
        let (r, d) = write_raw(h, data).await;
        data = d;
        match r {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), data),
            Ok(n) => drop(data.drain(..n)),
            Err(e) => return (Err(e), data),
        }
    }
    (Ok(()), data)
}

impl OverlappedStream {
    /// A stream on a handle already registered with `binding`'s port.
    pub(crate) fn bound(handle: OwnedHandle, binding: PortBinding) -> OverlappedStream {
        Self::with(handle, Some(binding), usize::MAX)
    }

    /// A stream whose handle is registered with the runtime of its first
    /// operation; each `poll_write` accepts at most `max_chunk` bytes.
    pub(crate) fn unbound(handle: OwnedHandle, max_chunk: usize) -> OverlappedStream {
        Self::with(handle, None, max_chunk)
    }

    fn with(
        handle: OwnedHandle,
        binding: Option<PortBinding>,
        max_chunk: usize,
    ) -> OverlappedStream {
        OverlappedStream {
            read: ReadState::Idle(Vec::new()),
            write: WriteState::Idle(Vec::new()),
            port_touched: binding.is_some(),
            binding,
            max_chunk: max_chunk.max(1),
            handle,
        }
    }

    pub(crate) fn raw(&self) -> RawHandle {
        self.handle.as_raw_handle()
    }

    /// Registers the handle on first use, then checks that this is the
    /// runtime it is bound to.
    pub(crate) fn check(&mut self) -> io::Result<()> {
        match &self.binding {
            Some(b) => b.check(),
            None => {
                self.port_touched = true;
                self.binding = Some(PortBinding::register(self.raw())?);
                Ok(())
            }
        }
    }

    /// The handle, to give to another process (a child's `Stdio`), if it
    /// was never associated with a completion port. An association cannot
    /// be undone, and the registration set `FILE_SKIP_SET_EVENT_ON_HANDLE`,
    /// so a bound handle would leave a child's synchronous I/O waiting on
    /// a handle that is never signalled: that is refused with
    /// `ErrorKind::Unsupported`. An unbound stream never started an
    /// operation, so nothing is in flight.
    pub(crate) fn into_unbound_handle(self) -> io::Result<OwnedHandle> {
        if self.port_touched {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "oneport: this pipe was already read or written on a runtime, so its handle is \
                 bound to that runtime's I/O completion port for good and cannot be given to \
                 another process; convert a child's pipe into a Stdio before any I/O on it",
            ));
        }
        // The stream's own drop needs its fields, so the handle leaves it
        // as a duplicate (same pipe, same access); the original closes
        // with the stream.
        self.handle.try_clone()
    }

    /// The binding check for `&self` operations (streams made with
    /// [`bound`](Self::bound)).
    pub(crate) fn check_bound(&self) -> io::Result<()> {
        match &self.binding {
            Some(b) => b.check(),
            None => Err(io::Error::other(
                "oneport: internal error: an unregistered pipe used through a shared reference",
            )),
        }
    }

    /// One owned-buffer read of the spare capacity of `buf`.
    pub(crate) async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        let (r, buf) = self.read_message(buf).await;
        (r.map(|m| m.bytes), buf)
    }

    /// One owned-buffer read, saying whether a message ended.
    pub(crate) async fn read_message<B: IoBufMut>(&self, buf: B) -> (io::Result<MessageRead>, B) {
        if let Err(e) = self.check_bound() {
            return (Err(e), buf);
        }
        read_raw(self.raw(), buf).await
    }

    /// One owned-buffer write of the initialised bytes of `buf`.
    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        if let Err(e) = self.check_bound() {
            return (Err(e), buf);
        }
        write_raw(self.raw(), buf).await
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let h = self.raw();
        loop {
            match &mut self.read {
                ReadState::Buffered { data, pos } => {
                    let n = dst.len().min(data.len() - *pos);
                    dst[..n].copy_from_slice(&data[*pos..*pos + n]);
                    *pos += n;
                    if *pos == data.len() {
                        let mut v = std::mem::take(data);
                        v.clear();
                        self.read = ReadState::Idle(v);
                    }
                    return Poll::Ready(Ok(n));
                }
                ReadState::Idle(v) => {
                    if dst.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    let mut v = std::mem::take(v);
                    if let Err(e) = self.check() {
                        self.read = ReadState::Idle(v);
                        return Poll::Ready(Err(e));
                    }
                    v.clear();
                    if v.capacity() != dst.len() {
                        v = Vec::with_capacity(dst.len());
                    }
                    self.read = ReadState::Reading(Box::pin(async move {
                        let (r, v) = read_raw(h, v).await;
                        (r.map(|m| m.bytes), v)
                    }));
                }
                ReadState::Reading(op) => {
                    let (r, v) = ready!(op.as_mut().poll(cx));
                    match r {
                        Ok(n) if n > 0 => self.read = ReadState::Buffered { data: v, pos: 0 },
                        other => {
                            self.read = ReadState::Idle(v);
                            return Poll::Ready(other);
                        }
                    }
                }
            }
        }
    }

    /// Finishes the write in flight, if any; its error is returned here.
    fn poll_write_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let WriteState::Writing(op) = &mut self.write {
            let (r, v) = ready!(op.as_mut().poll(cx));
            self.write = WriteState::Idle(v);
            return Poll::Ready(r);
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_write_done(cx))?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.check()?;
        let WriteState::Idle(v) = &mut self.write else {
            unreachable!("no write in flight after poll_write_done")
        };
        let src = &src[..src.len().min(self.max_chunk)];
        let mut v = std::mem::take(v);
        v.clear();
        v.extend_from_slice(src);
        let mut op: BoxedOp<()> = Box::pin(write_all_raw(self.raw(), v));
        // Poll once to submit the write now (futures are lazy); a write
        // refused as it is submitted is reported here.
        match op.as_mut().poll(cx) {
            Poll::Ready((r, v)) => {
                self.write = WriteState::Idle(v);
                Poll::Ready(r.map(|()| src.len()))
            }
            Poll::Pending => {
                self.write = WriteState::Writing(op);
                Poll::Ready(Ok(src.len()))
            }
        }
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_done(cx)
    }
}

impl Drop for OverlappedStream {
    fn drop(&mut self) {
        if matches!(self.write, WriteState::Writing(_)) {
            // The owner dropped the stream without flushing: the write is
            // cancelled below and its outcome has no one to go to.
            log::warn!(
                target: "oneport",
                "a pipe was dropped with a write in flight (not flushed); the write is \
                 cancelled and some of its bytes may not have been written"
            );
        }
    }
}
