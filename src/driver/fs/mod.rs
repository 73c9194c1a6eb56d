//! Files, the platform half: what `crate::fs::File` calls, without `cfg`.
//!
//! Both platforms keep the open file as an `Arc<std::fs::File>`, so that a
//! call running on the blocking pool keeps the handle open even if the
//! `File` is dropped meanwhile (the handle value can then never be reused
//! under that call). What differs:
//!
//! - Windows (`windows.rs`): the handle is opened with
//!   `FILE_FLAG_OVERLAPPED` and registered with the runtime's port; reads and
//!   writes are overlapped operations (`lowlevel::read_overlapped` /
//!   `write_overlapped`), so they cost no thread.
//! - Linux (`unix.rs`): regular files have no readiness (epoll refuses them),
//!   so positional reads and writes (`pread`/`pwrite`) run on the blocking
//!   pool.
//!
//! Opening, flushing, resizing and metadata run on the blocking pool on both.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::blocking_pool::spawn_blocking;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

/// How to open a file (the subset of `std::fs::OpenOptions` that makes
/// sense for positional I/O).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenSpec {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) create: bool,
    pub(crate) create_new: bool,
    pub(crate) truncate: bool,
}

/// An open file.
#[derive(Debug)]
pub(crate) struct FileImpl {
    file: Arc<std::fs::File>,
}

/// Opens `path` as `spec` says, off the run loop, ready for the platform's
/// positional I/O.
pub(crate) async fn open(path: PathBuf, spec: OpenSpec) -> io::Result<FileImpl> {
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
    Ok(FileImpl {
        file: Arc::new(file),
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

impl FileImpl {
    /// Reads into the spare capacity of `buf` at `pos`; `Ok(0)` at or past
    /// end of file.
    pub(crate) async fn read_at<B: crate::buf::IoBufMut>(
        &self,
        buf: B,
        pos: u64,
    ) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        sys::read_at(&self.file, buf, pos).await
    }

    /// Writes the initialised bytes of `buf` at `pos`.
    pub(crate) async fn write_at<B: crate::buf::IoBuf>(
        &self,
        buf: B,
        pos: u64,
    ) -> (io::Result<usize>, B) {
        if let Err(e) = check_offset(pos) {
            return (Err(e), buf);
        }
        sys::write_at(&self.file, buf, pos).await
    }

    /// Runs `f` on the file, on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let file = self.file.clone();
        spawn_blocking(move || f(&file)).await
    }

    pub(crate) async fn sync_all(&self) -> io::Result<()> {
        self.blocking(|f| f.sync_all()).await
    }

    pub(crate) async fn sync_data(&self) -> io::Result<()> {
        self.blocking(|f| f.sync_data()).await
    }

    pub(crate) async fn set_len(&self, len: u64) -> io::Result<()> {
        self.blocking(move |f| f.set_len(len)).await
    }

    pub(crate) async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.blocking(|f| f.metadata()).await
    }

    pub(crate) async fn set_sparse(&self) -> io::Result<()> {
        self.blocking(sys::set_sparse).await
    }

    /// The OS handle (for `AsRawHandle` / `AsRawFd`).
    pub(crate) fn std(&self) -> &std::fs::File {
        &self.file
    }
}
