//! [`FileReader`]: a [`File`] read front to back through a buffer, as a
//! `futures_io` stream.
//!
//! # Why it keeps its read in flight
//!
//! A `File` has no cursor and reads into owned buffers, because the kernel
//! (io_uring, the overlapped I/O of Windows) may still write into the buffer
//! after the future that started the read was given up. The `futures_io`
//! traits, in contrast, lend the caller's slice for one poll at a time. So
//! the reader owns one buffer and moves it into each [`File::read_at`]; the
//! future of that read (which owns the buffer and a shared handle of the
//! file) is stored in the reader and polled again by the next call, never
//! restarted, so no read is ever issued twice or lost between polls. When
//! the reader itself is dropped with a read in flight, dropping that future
//! cancels the read exactly as dropping any `read_at` does: the driver (or
//! the blocking pool) keeps the memory the kernel may still write until the
//! kernel is done.

use std::fmt;
use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::File;

/// The buffer size of [`FileReader::new`] and [`FileWriter::new`](super::FileWriter::new).
pub(crate) const DEFAULT_CAPACITY: usize = 64 * 1024;

/// A read of the file in flight: it owns the buffer until it completes.
type ReadOp = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)>>>;

/// The file's length, asked for by a seek from the end.
type LenOp = Pin<Box<dyn Future<Output = io::Result<u64>>>>;

/// What the reader is waiting for, if anything.
enum State {
    Idle,
    /// A read at `FileReader::pos` into the (moved) buffer.
    Reading(ReadOp),
    /// The file's length for `SeekFrom::End(offset)`.
    Measuring(LenOp, i64),
}

/// Reads a [`File`] sequentially through an internal buffer: implements
/// `futures_io::AsyncRead`, `AsyncBufRead` and `AsyncSeek`.
///
/// The reader keeps its own offset into the file (starting at 0, or where
/// [`at`](FileReader::at) says) and reads the file in pieces of its
/// capacity (64 KiB unless [`with_capacity`](FileReader::with_capacity)
/// says otherwise) with [`File::read_at`]; small reads and line reads are
/// served from the buffer. End of file reads as `Ok(0)` (an empty
/// `fill_buf`, which stays empty until `consume` is called); reading on
/// after that sees bytes appended meanwhile.
///
/// ```no_run
/// # oneport::run(async {
/// use futures_io::AsyncBufRead;
/// use oneport::fs::{File, FileReader};
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// let mut r = FileReader::new(File::open("Cargo.toml").await?);
/// // The first bytes of the file, without copying them out.
/// let head = poll_fn(|cx| Pin::new(&mut r).poll_fill_buf(cx).map_ok(|b| b.to_vec())).await?;
/// Pin::new(&mut r).consume(head.len());
/// assert_eq!(r.position(), head.len() as u64);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
///
/// # Cancellation and dropping
/// A read started by a poll stays in the reader until it completes: a
/// `poll_read` or `poll_fill_buf` that returned `Pending` and is not called
/// again leaves it there, and the next call of either continues it. No byte
/// is lost or read twice that way. Dropping the reader (or calling
/// [`into_inner`](FileReader::into_inner)) with a read in flight cancels
/// that read as dropping [`File::read_at`] does: its memory stays with the
/// runtime until the kernel is done, and the file's next call waits for it.
///
/// A seek from the end (`SeekFrom::End`) asks for the file's length on the
/// blocking pool; if a read or fill comes before that seek is polled to
/// completion, the seek is given up and does not happen.
///
/// The reader is not `Send`: a read in flight belongs to the runtime that
/// started it. Use it on the runtime that opened the file.
pub struct FileReader {
    file: File,
    /// Bytes read and not all consumed (empty, and without its allocation,
    /// while a read owns it).
    buf: Vec<u8>,
    /// The first byte of `buf` not yet consumed.
    start: usize,
    /// The file offset just after `buf`'s last byte: where the next read
    /// goes.
    pos: u64,
    /// How many bytes one read asks for.
    cap: usize,
    state: State,
    /// The last read found end of file and nothing was consumed since:
    /// `poll_fill_buf` says so again without reading (a caller may poll it
    /// twice for one fill), until `consume` or a seek.
    eof: bool,
}

impl FileReader {
    /// A reader of `file` from its first byte, with a 64 KiB buffer.
    pub fn new(file: File) -> FileReader {
        FileReader::with_capacity(DEFAULT_CAPACITY, file)
    }

    /// A reader of `file` from its first byte whose reads ask for
    /// `capacity` bytes each (at least 1; 0 is taken as 1).
    pub fn with_capacity(capacity: usize, file: File) -> FileReader {
        FileReader {
            file,
            buf: Vec::new(),
            start: 0,
            pos: 0,
            cap: capacity.max(1),
            state: State::Idle,
            eof: false,
        }
    }

    /// A reader of `file` from byte `offset`, with a 64 KiB buffer. An
    /// offset above `i64::MAX` makes the first read fail with
    /// `InvalidInput`.
    pub fn at(file: File, offset: u64) -> FileReader {
        FileReader::with_capacity_at(DEFAULT_CAPACITY, file, offset)
    }

    /// A reader of `file` from byte `offset` whose reads ask for
    /// `capacity` bytes each (see [`with_capacity`](FileReader::with_capacity)
    /// and [`at`](FileReader::at)).
    pub fn with_capacity_at(capacity: usize, file: File, offset: u64) -> FileReader {
        let mut r = FileReader::with_capacity(capacity, file);
        r.pos = offset;
        r
    }

    /// The file offset of the next byte a read returns.
    pub fn position(&self) -> u64 {
        self.pos - (self.buf.len() - self.start) as u64
    }

    /// The bytes read from the file and not consumed yet (without reading
    /// more).
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// How many bytes one read of the file asks for.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The file underneath (for its metadata, or positional calls of its
    /// own, which do not move this reader).
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// The file back. Bytes buffered and not consumed are dropped; a read
    /// in flight is cancelled (see "Cancellation and dropping" above). The
    /// position to carry on from is [`position`](FileReader::position),
    /// taken before.
    pub fn into_inner(self) -> File {
        self.file
    }

    /// Starts a read of up to `cap` bytes at `pos` into the (emptied)
    /// buffer.
    fn start_read(&mut self) {
        let mut v = std::mem::take(&mut self.buf);
        v.clear();
        if v.capacity() < self.cap {
            v = Vec::with_capacity(self.cap);
        }
        self.start = 0;
        let file = self.file.share();
        let pos = self.pos;
        self.state = State::Reading(Box::pin(async move { file.read_at(v, pos).await }));
    }

    /// Waits for the read in flight, if any, and takes its bytes into the
    /// buffer.
    fn poll_read_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let State::Reading(op) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let (r, v) = ready!(op.as_mut().poll(cx));
        self.state = State::Idle;
        self.buf = v;
        self.start = 0;
        if let Ok(n) = r {
            self.pos += n as u64;
            self.eof = n == 0;
        }
        Poll::Ready(r.map(drop))
    }

    /// The new position for `to`, or an error for a position before the
    /// start of the file or past the largest offset.
    fn target(&self, to: SeekFrom, len: Option<u64>) -> io::Result<u64> {
        let (base, delta) = match to {
            SeekFrom::Start(n) => return checked_offset(Some(n)),
            SeekFrom::Current(d) => (self.position(), d),
            SeekFrom::End(d) => (len.unwrap_or(0), d),
        };
        checked_offset(base.checked_add_signed(delta))
    }

    /// Moves to `to`, keeping the buffer if `to` lies inside it.
    fn move_to(&mut self, to: u64) {
        self.eof = false;
        let first = self.pos - self.buf.len() as u64;
        if (first..=self.pos).contains(&to) {
            self.start = (to - first) as usize;
        } else {
            self.buf.clear();
            self.start = 0;
            self.pos = to;
        }
    }
}

/// Refuses a seek before the start of the file (`None`: the arithmetic
/// went below 0 or past `u64::MAX`) or past the largest file offset.
fn checked_offset(to: Option<u64>) -> io::Result<u64> {
    match to {
        Some(n) if n <= i64::MAX as u64 => Ok(n),
        Some(n) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("seek to {n}, above the largest file offset"),
        )),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "seek to a position before the start of the file (or past the largest offset)",
        )),
    }
}

impl futures_io::AsyncBufRead for FileReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.start == this.buf.len() && !this.eof {
            if matches!(this.state, State::Measuring(..)) {
                // A seek from the end given up before it finished.
                this.state = State::Idle;
            }
            if matches!(this.state, State::Idle) {
                this.start_read();
            }
            ready!(this.poll_read_done(cx))?;
        }
        Poll::Ready(Ok(&this.buf[this.start..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.start = (this.start + amt).min(this.buf.len());
        this.eof = false;
    }
}

impl futures_io::AsyncRead for FileReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let data = ready!(futures_io::AsyncBufRead::poll_fill_buf(self.as_mut(), cx))?;
        let n = data.len().min(out.len());
        out[..n].copy_from_slice(&data[..n]);
        futures_io::AsyncBufRead::consume(self, n);
        Poll::Ready(Ok(n))
    }
}

impl futures_io::AsyncSeek for FileReader {
    /// Moves the reader. A target inside the buffer keeps it; elsewhere
    /// the buffer is dropped and the next read starts there. A read in
    /// flight is finished first (its bytes are kept if the target lies in
    /// them). `SeekFrom::End` asks for the file's length. A position before
    /// the start of the file or above `i64::MAX` is `InvalidInput`.
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        to: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        // The read in flight was at the old position; if it failed, its
        // error belongs to no one (no byte of it was asked for yet), and
        // a read at the new position reports its own.
        let _ = ready!(this.poll_read_done(cx));
        let len = match to {
            SeekFrom::End(d) => {
                if !matches!(this.state, State::Measuring(_, e) if e == d) {
                    let file = this.file.share();
                    let op: LenOp = Box::pin(async move { Ok(file.metadata().await?.len()) });
                    this.state = State::Measuring(op, d);
                }
                let State::Measuring(op, _) = &mut this.state else {
                    unreachable!("a length query was just stored")
                };
                let len = ready!(op.as_mut().poll(cx));
                this.state = State::Idle;
                Some(len?)
            }
            _ => {
                this.state = State::Idle;
                None
            }
        };
        let target = this.target(to, len)?;
        this.move_to(target);
        Poll::Ready(Ok(target))
    }
}

impl fmt::Debug for FileReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileReader")
            .field("position", &self.position())
            .field("buffered", &(self.buf.len() - self.start))
            .field("capacity", &self.cap)
            .field("reading", &matches!(self.state, State::Reading(_)))
            .finish_non_exhaustive()
    }
}
