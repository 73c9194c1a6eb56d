//! Files with positional, owned-buffer I/O.
//!
//! A [`File`] has no cursor: every read and write names its offset
//! ([`File::read_at`], [`File::write_at`]), so several tasks can use one file
//! at once without racing on a shared position. Buffers are passed by value
//! and come back with the result, because the operating system may still be
//! using them after the future is dropped (see [`crate::buf`]).
//!
//! On Windows a `File` is overlapped I/O on the runtime's completion port:
//! reads and writes cost no thread. On Linux, where regular files have no
//! readiness notification, reads, writes and syncs are io_uring operations
//! on the runtime's ring when the kernel offers one, and otherwise run on
//! the blocking pool (see [`crate::spawn_blocking`]); which one is in use
//! is `lowlevel::statistics().file_backend`, and `ONEPORT_DRIVER=epoll`
//! forces the pool (`ONEPORT_DRIVER=io_uring` makes `Runtime::new` fail
//! when there is no ring).
//! Opening, metadata and resizing run on the pool everywhere.
//!
//! For sequential reading and writing, [`FileReader`] and [`FileWriter`]
//! put an offset and a buffer around a `File` and implement the
//! `futures_io` traits (`AsyncRead`, `AsyncBufRead`, `AsyncSeek`;
//! `AsyncWrite`), so line reading, copying and the other helpers of the
//! `futures_io` ecosystem work on files. They keep the operation in flight
//! (which owns their buffer) from one poll to the next, for the same reason
//! `File` takes owned buffers.
//!
//! The whole-file and directory calls by path ([`read`], [`write`](write()),
//! [`read_to_string`], [`create_dir_all`], [`remove_file`], [`remove_dir`],
//! [`rename`], [`metadata`], [`copy`]) are the standard library's, run on
//! the blocking pool: no platform has an asynchronous form of them.
//!
//! ```no_run
//! # oneport::run(async {
//! use oneport::fs::File;
//!
//! let f = File::create("hello.txt").await?;
//! let (n, _) = f.write_at(&b"hello, world"[..], 0).await;
//! assert_eq!(n?, 12);
//! f.sync_all().await?;
//!
//! let f = File::open("hello.txt").await?;
//! let (n, buf) = f.read_at(Vec::with_capacity(64), 7).await;
//! assert_eq!(n?, 5);
//! assert_eq!(buf, b"world");
//! # std::io::Result::Ok(()) }).unwrap();
//! ```

mod paths;
mod reader;
mod writer;

pub use paths::{
    copy, create_dir_all, metadata, read, read_to_string, remove_dir, remove_file, rename, write,
};
pub use reader::FileReader;
pub use writer::FileWriter;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::fence::Fence;
use crate::runtime::{spawn_blocking, spawn_blocking_fenced};
use crate::sys::fs as sys;

/// An open file, read and written at explicit offsets.
///
/// Dropping it closes the handle (once no call on it is still running).
/// Must be used on the runtime that opened it (on Windows its handle is
/// registered with that runtime's port).
///
/// # Dropping a call
/// Every call can be dropped at any await point. A call dropped before it
/// started never starts: the bytes of a dropped `write_at` that had not
/// reached a pool thread (Linux) or the kernel (Windows: dropped before its
/// first poll) are never written. A call dropped after it started cannot
/// be taken back; it runs to completion and is ordered before every call
/// on the same `File` made after the drop: those wait until it is over. So
/// a dropped write either never lands or lands before any later write, and
/// never over newer data. On Windows a started write is not cancelled
/// (`CancelIoEx` may or may not stop it, which would leave its effect
/// unknown); it is left to complete on the runtime, and the file's next
/// call waits for it. Reads never write into a buffer after it was handed
/// back; a dropped read's buffer is never handed back (on Linux the kernel
/// reads into a buffer of the pool's, on Windows the driver owns it until
/// the kernel is done). Calls on other `File`s, even of the same path, are
/// not ordered by this.
#[derive(Debug)]
pub struct File {
    /// Shared with calls running on the blocking pool, so that a call keeps
    /// the handle open even if the `File` is dropped meanwhile (the handle
    /// value can then never be reused under that call).
    file: Arc<std::fs::File>,
    /// Orders the calls given up while they ran before this file's later
    /// calls (see "Dropping a call" on [`File`]).
    fence: Arc<Fence>,
}

/// How to open a file (the subset of `std::fs::OpenOptions` that makes
/// sense for positional I/O).
#[derive(Clone, Copy, Debug, Default)]
struct OpenSpec {
    read: bool,
    write: bool,
    create: bool,
    create_new: bool,
    truncate: bool,
}

/// Opens `path` as `spec` says, off the run loop, ready for the platform's
/// positional I/O.
async fn open(path: PathBuf, spec: OpenSpec) -> io::Result<File> {
    let file = spawn_blocking(move || {
        let mut o = std::fs::OpenOptions::new();
        o.read(spec.read)
            .write(spec.write)
            .create(spec.create)
            .create_new(spec.create_new)
            .truncate(spec.truncate);
        sys::add_open_flags(&mut o);
        o.open(path)
    })
    .await?;
    sys::prepare(&file)?;
    Ok(File {
        file: Arc::new(file),
        fence: Fence::new(),
    })
}

/// Offsets above `i64::MAX` are refused on both platforms: Linux cannot
/// express them, and on Windows the top values have special meanings
/// (`u64::MAX` writes at the end of the file).
fn check_offset(pos: u64) -> io::Result<()> {
    if pos > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "file offset {pos} is above the largest file offset, {}",
                i64::MAX
            ),
        ));
    }
    Ok(())
}

/// Options for opening a [`File`], like `std::fs::OpenOptions`.
///
/// ```no_run
/// # oneport::run(async {
/// let f = oneport::fs::OpenOptions::new().read(true).write(true).create(true).open("data.bin").await?;
/// # drop(f); std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    spec: OpenSpec,
}

impl OpenOptions {
    /// All options off.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.spec.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.spec.write = on;
        self
    }

    /// Create the file if it does not exist (needs `write`).
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.spec.create = on;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (needs
    /// `write`).
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.spec.create_new = on;
        self
    }

    /// Truncate an existing file to length 0 (needs `write`).
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.spec.truncate = on;
        self
    }

    /// Opens `path` with these options. Errors are the operating system's
    /// (`NotFound`, `PermissionDenied`, `AlreadyExists`, `InvalidInput` for
    /// contradictory options, ...).
    ///
    /// # Panics
    /// When polled outside a oneport runtime.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        open(path.as_ref().to_path_buf(), self.spec).await
    }
}

impl File {
    /// Opens an existing file for reading. A missing file gives
    /// `io::ErrorKind::NotFound`.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for reading and writing, creating it if it does not
    /// exist and truncating it if it does.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Reads at `pos` into the spare capacity of `buf` (from `len()` up to
    /// `capacity()`), extends its length by the bytes read and returns how
    /// many. `Ok(0)` at or past end of file, or when `buf` has no spare
    /// capacity. A short read does not mean end of file.
    ///
    /// Dropping the future cancels the read (a read already running
    /// finishes and its bytes are dropped); see "Dropping a call" on
    /// [`File`].
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        self.fence.wait().await;
        sys::read_at(&self.file, &self.fence, buf, pos).await
    }

    /// Writes the initialised bytes of `buf` at `pos` (extending the file
    /// if needed) and returns how many were written.
    ///
    /// Dropping the future before the write started means it never
    /// happens; a write already started still completes, before any later
    /// call on this `File` (see "Dropping a call" on [`File`]).
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        self.fence.wait().await;
        sys::write_at(&self.file, &self.fence, buf, pos).await
    }

    /// Flushes data and metadata to the storage device.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.fence.wait().await;
        sys::sync(&self.file, &self.fence, false).await
    }

    /// Flushes data (and only the metadata needed to read it back).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.fence.wait().await;
        sys::sync(&self.file, &self.fence, true).await
    }

    /// Truncates or extends the file to `len` bytes.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        self.blocking(move |f| f.set_len(len)).await
    }

    /// The file's metadata (length, times, permissions).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.blocking(|f| f.metadata()).await
    }

    /// Marks the file sparse, so ranges never written take no space.
    ///
    /// On Windows (NTFS) a write far past the end otherwise allocates and
    /// zero-fills everything before it; this sets `FSCTL_SET_SPARSE`. Linux
    /// file systems keep holes without being asked: there it does nothing.
    pub async fn set_sparse(&self) -> io::Result<()> {
        self.blocking(sys::set_sparse).await
    }
}

impl File {
    /// Another `File` value for the same open handle and the same fence:
    /// the buffered reader and writer move one into each operation's
    /// future, so that future owns everything it uses and can be kept
    /// across polls (and dropped on its own) while the caller keeps the
    /// original.
    pub(crate) fn share(&self) -> File {
        File {
            file: self.file.clone(),
            fence: self.fence.clone(),
        }
    }

    /// Runs `f` on the file, on the blocking pool, after the calls given
    /// up earlier (a dropped `set_len` must not shrink the file under a
    /// later write either).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        self.fence.wait().await;
        let file = self.file.clone();
        spawn_blocking_fenced(&self.fence, move || f(&file)).await
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawHandle for File {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.file.as_raw_handle()
    }
}
