//! [`FileWriter`]: a [`File`] written front to back through a buffer, as a
//! `futures_io` sink.
//!
//! The writer gathers small writes into one owned buffer and hands the
//! whole buffer to [`File::write_at`] when it is full, flushed or closed.
//! The kernel may read that buffer after the future that started the write
//! was given up, so, as in [`FileReader`](super::FileReader), the write's
//! future (owning the buffer and a shared handle of the file) is stored in
//! the writer and continued by the next poll, never restarted: a byte is
//! written once, in order. Dropping the writer with a write in flight drops
//! that future, which `File` handles as any dropped `write_at`: the write
//! already started completes before the file's next call, and its memory
//! is never freed under the kernel.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::reader::DEFAULT_CAPACITY;
use super::File;

/// A write of the buffer in flight: it owns the buffer until it completes.
type WriteOp = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)>>>;

/// Writes a [`File`] sequentially through an internal buffer: implements
/// `futures_io::AsyncWrite`.
///
/// The writer keeps its own offset into the file (starting at 0, or where
/// [`at`](FileWriter::at) says) and writes with [`File::write_at`], one
/// buffer (64 KiB unless [`with_capacity`](FileWriter::with_capacity) says
/// otherwise) at a time. `poll_write` copies the caller's bytes into the
/// buffer and only waits when it is full; `poll_flush` writes everything
/// buffered; `poll_close` is `poll_flush` (the file stays open until the
/// writer or the file from [`into_inner`](FileWriter::into_inner) is
/// dropped). Neither syncs to the storage device: call
/// [`File::sync_all`] on [`get_ref`](FileWriter::get_ref) after flushing
/// for that.
///
/// ```no_run
/// # oneport::run(async {
/// use futures_io::AsyncWrite;
/// use oneport::fs::{File, FileWriter};
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// let mut w = FileWriter::new(File::create("out.txt").await?);
/// let n = poll_fn(|cx| Pin::new(&mut w).poll_write(cx, b"hello")).await?;
/// assert_eq!(n, 5);
/// poll_fn(|cx| Pin::new(&mut w).poll_close(cx)).await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
///
/// # Errors
/// A failed write (a file opened read-only, a full disk) is returned by the
/// `poll_write`, `poll_flush` or `poll_close` that waited for it, as an
/// `io::Error`. The bytes it did not write stay buffered: a later flush
/// tries them again, and they are lost if the writer is dropped.
///
/// # Dropping with unflushed data
/// **Bytes still in the buffer when the writer is dropped are lost**: a
/// drop cannot wait for a write, so nothing is written for them. Flush or
/// close the writer first (and check the result). A write already in flight
/// when the writer is dropped is not lost: it completes on the runtime,
/// before any later call on the same file (see "Dropping a call" on
/// [`File`]). [`into_inner`](FileWriter::into_inner) behaves the same way.
///
/// The writer is not `Send`: a write in flight belongs to the runtime that
/// started it. Use it on the runtime that opened the file.
pub struct FileWriter {
    file: File,
    /// Bytes taken and not written yet (empty, without its allocation,
    /// while a write owns it).
    buf: Vec<u8>,
    /// The file offset where `buf`'s first byte goes.
    pos: u64,
    /// How many bytes the buffer holds before it is written.
    cap: usize,
    /// The write of the buffer in flight, if any.
    op: Option<WriteOp>,
    /// How many bytes that write owns (they go at `pos`).
    in_flight: usize,
}

impl FileWriter {
    /// A writer of `file` from its first byte, with a 64 KiB buffer.
    pub fn new(file: File) -> FileWriter {
        FileWriter::with_capacity(DEFAULT_CAPACITY, file)
    }

    /// A writer of `file` from its first byte whose buffer holds `capacity`
    /// bytes (at least 1; 0 is taken as 1).
    pub fn with_capacity(capacity: usize, file: File) -> FileWriter {
        FileWriter {
            file,
            buf: Vec::new(),
            pos: 0,
            cap: capacity.max(1),
            op: None,
            in_flight: 0,
        }
    }

    /// A writer of `file` from byte `offset`, with a 64 KiB buffer (for
    /// example the file's length, to append). An offset above `i64::MAX`
    /// makes the first write of the buffer fail with `InvalidInput`.
    pub fn at(file: File, offset: u64) -> FileWriter {
        FileWriter::with_capacity_at(DEFAULT_CAPACITY, file, offset)
    }

    /// A writer of `file` from byte `offset` whose buffer holds `capacity`
    /// bytes (see [`with_capacity`](FileWriter::with_capacity) and
    /// [`at`](FileWriter::at)).
    pub fn with_capacity_at(capacity: usize, file: File, offset: u64) -> FileWriter {
        let mut w = FileWriter::with_capacity(capacity, file);
        w.pos = offset;
        w
    }

    /// The file offset the next byte taken will be written at.
    pub fn position(&self) -> u64 {
        self.pos + (self.in_flight + self.buf.len()) as u64
    }

    /// The bytes taken and not yet handed to the file (a write in flight
    /// owns its bytes: they are not counted here).
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes the buffer holds before it is written.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The file underneath.
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// The file back, **without flushing**: buffered bytes are lost (see
    /// "Dropping with unflushed data" above). Flush or close first.
    pub fn into_inner(self) -> File {
        self.file
    }

    /// Starts writing the buffer at `pos`.
    fn start_write(&mut self) {
        let v = std::mem::take(&mut self.buf);
        self.in_flight = v.len();
        let file = self.file.share();
        let pos = self.pos;
        self.op = Some(Box::pin(async move { file.write_at(v, pos).await }));
    }

    /// Waits for the write in flight, if any; what it did not write goes
    /// back into the buffer.
    fn poll_write_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(op) = &mut self.op else {
            return Poll::Ready(Ok(()));
        };
        let (r, mut v) = ready!(op.as_mut().poll(cx));
        self.op = None;
        self.in_flight = 0;
        let r = match r {
            Ok(0) if !v.is_empty() => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the file took none of the bytes written to it",
            )),
            Ok(n) => {
                let n = n.min(v.len());
                v.drain(..n);
                self.pos += n as u64;
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.buf = v;
        Poll::Ready(r)
    }
}

impl futures_io::AsyncWrite for FileWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            ready!(this.poll_write_done(cx))?;
            let room = this.cap.saturating_sub(this.buf.len());
            if room > 0 {
                if this.buf.capacity() < this.cap {
                    this.buf.reserve_exact(this.cap - this.buf.len());
                }
                let n = room.min(data.len());
                this.buf.extend_from_slice(&data[..n]);
                return Poll::Ready(Ok(n));
            }
            this.start_write();
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_write_done(cx))?;
            if this.buf.is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.start_write();
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWriter")
            .field("position", &self.position())
            .field("buffered", &self.buf.len())
            .field("capacity", &self.cap)
            .field("writing", &self.op.is_some())
            .finish_non_exhaustive()
    }
}
