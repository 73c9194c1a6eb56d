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
//! readiness notification, they run on a small bounded pool of threads.
//! Opening, flushing and resizing run on that pool on both.
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

use std::io;
use std::path::Path;

use crate::buf::{IoBuf, IoBufMut};
use crate::driver::fs::{self as sys, FileImpl, OpenSpec};

/// An open file, read and written at explicit offsets.
///
/// Dropping it closes the handle. Must be used on the runtime that opened it
/// (on Windows its handle is registered with that runtime's port).
#[derive(Debug)]
pub struct File {
    inner: FileImpl,
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
        let inner = sys::open(path.as_ref().to_path_buf(), self.spec).await?;
        Ok(File { inner })
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
    /// Dropping the future cancels the read (on Linux, a read already
    /// running finishes and its bytes are dropped).
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        self.inner.read_at(buf, pos).await
    }

    /// Writes the initialised bytes of `buf` at `pos` (extending the file
    /// if needed) and returns how many were written.
    ///
    /// Dropping the future does not undo a write the system has already
    /// started.
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        self.inner.write_at(buf, pos).await
    }

    /// Flushes data and metadata to the storage device.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all().await
    }

    /// Flushes data (and only the metadata needed to read it back).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data().await
    }

    /// Truncates or extends the file to `len` bytes.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len).await
    }

    /// The file's metadata (length, times, permissions).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.inner.metadata().await
    }

    /// Marks the file sparse, so ranges never written take no space.
    ///
    /// On Windows (NTFS) a write far past the end otherwise allocates and
    /// zero-fills everything before it; this sets `FSCTL_SET_SPARSE`. Linux
    /// file systems keep holes without being asked: there it does nothing.
    pub async fn set_sparse(&self) -> io::Result<()> {
        self.inner.set_sparse().await
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.std().as_raw_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawHandle for File {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.inner.std().as_raw_handle()
    }
}
