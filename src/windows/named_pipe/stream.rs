//! The I/O half shared by both ends of a named pipe.
//!
//! Owned-buffer reads and writes go straight to `lowlevel::read_overlapped`
//! / `write_overlapped` with the caller's buffer. The `futures_io` traits
//! lend a borrowed slice for one poll only, so they keep one owned `Vec<u8>`
//! per direction, sized to the caller's request (no fixed internal buffer):
//!
//! - reading: the first `poll_read` starts an overlapped read of
//!   `buf.len()` bytes into the vector; when it completes the bytes are
//!   copied out (any the caller no longer has room for are kept for the next
//!   call);
//! - writing: `poll_write` first finishes the write in flight (reporting its
//!   error, if any), then copies the caller's bytes into the vector, starts
//!   one overlapped write of all of them and reports them as accepted;
//!   `poll_flush` waits for the write in flight.
//!
//! Dropping the pipe drops the operations in flight first (their memory stays
//! with the runtime until the kernel lets go of it), then closes the handle.

use std::future::Future;
use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle, RawHandle};
use std::pin::Pin;
use std::task::{Context, Poll};

use windows_sys::Win32::Foundation::{
    ERROR_BROKEN_PIPE, ERROR_MORE_DATA, ERROR_PIPE_NOT_CONNECTED,
};
use windows_sys::Win32::Storage::FileSystem::{ReadFile, WriteFile};

use crate::buf::{self, IoBuf, IoBufMut};
use crate::lowlevel::overlapped::run_op;

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

pub(super) struct PipeIo {
    // Field order is drop order: operations before the handle they use.
    read: ReadState,
    write: WriteState,
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
        run_op(h, "named pipe read", buf, move |ov, buf: &mut B| {
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
        run_op(h, "named pipe write", buf, move |ov, buf: &mut B| {
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

impl PipeIo {
    pub(super) fn new(handle: OwnedHandle) -> PipeIo {
        PipeIo {
            read: ReadState::Idle(Vec::new()),
            write: WriteState::Idle(Vec::new()),
            handle,
        }
    }

    pub(super) fn raw(&self) -> RawHandle {
        self.handle.as_raw_handle()
    }

    pub(super) async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        let (r, buf) = read_raw(self.raw(), buf).await;
        (r.map(|m| m.bytes), buf)
    }

    pub(super) async fn read_message<B: IoBufMut>(&self, buf: B) -> (io::Result<MessageRead>, B) {
        read_raw(self.raw(), buf).await
    }

    pub(super) async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        write_raw(self.raw(), buf).await
    }

    pub(super) fn poll_read(
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
                    let (r, v) = match op.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(done) => done,
                    };
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
            let (r, v) = match op.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(done) => done,
            };
            self.write = WriteState::Idle(v);
            return Poll::Ready(r);
        }
        Poll::Ready(Ok(()))
    }

    pub(super) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = std::task::ready!(self.poll_write_done(cx)) {
            return Poll::Ready(Err(e));
        }
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let WriteState::Idle(v) = &mut self.write else {
            unreachable!("no write in flight after poll_write_done")
        };
        let mut v = std::mem::take(v);
        v.clear();
        v.extend_from_slice(src);
        let h = self.raw();
        let mut op: BoxedOp<()> = Box::pin(write_all_raw(h, v));
        // Poll once to submit the write now (futures are lazy).
        match op.as_mut().poll(cx) {
            Poll::Ready((Err(e), v)) => {
                self.write = WriteState::Idle(v);
                Poll::Ready(Err(e))
            }
            Poll::Ready((Ok(()), v)) => {
                self.write = WriteState::Idle(v);
                Poll::Ready(Ok(src.len()))
            }
            Poll::Pending => {
                self.write = WriteState::Writing(op);
                Poll::Ready(Ok(src.len()))
            }
        }
    }

    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_done(cx)
    }
}
