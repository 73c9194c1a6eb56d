//! Whole-file and directory calls by path: `read`, `write`, `rename`, ...
//!
//! Neither platform has an asynchronous form of these (Windows has no
//! overlapped `CreateDirectory`, `MoveFileEx` or `GetFileAttributesEx`, and
//! Linux none at all short of io_uring), so each is the standard library's
//! call run on the blocking pool, the way [`crate::spawn_blocking`] runs
//! any blocking call. The path is copied into the closure, so the caller's
//! value need not outlive the call. Errors are the standard library's
//! (`NotFound` for a missing file, and so on).
//!
//! Dropping one of these futures before a pool thread took the call means
//! it never happens; once started it runs to completion (a file system
//! call cannot be interrupted) and its result is dropped.

use std::io;
use std::path::Path;

use crate::runtime::spawn_blocking;

/// Runs `f(path)` on the blocking pool.
async fn on_pool<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce(&Path) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let path = path.to_path_buf();
    spawn_blocking(move || f(&path)).await
}

/// Runs `f(from, to)` on the blocking pool.
async fn on_pool2<T: Send + 'static>(
    from: &Path,
    to: &Path,
    f: impl FnOnce(&Path, &Path) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    spawn_blocking(move || f(&from, &to)).await
}

/// Reads the whole file at `path`, like `std::fs::read`.
///
/// ```no_run
/// # oneport::run(async {
/// let bytes = oneport::fs::read("Cargo.toml").await?;
/// # drop(bytes); std::io::Result::Ok(()) }).unwrap();
/// ```
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    on_pool(path.as_ref(), |p| std::fs::read(p)).await
}

/// Reads the whole file at `path` as UTF-8, like `std::fs::read_to_string`
/// (`InvalidData` if it is not UTF-8).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    on_pool(path.as_ref(), |p| std::fs::read_to_string(p)).await
}

/// Writes `contents` as the whole file at `path`, creating it or
/// truncating it first, like `std::fs::write`.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_vec();
    on_pool(path.as_ref(), move |p| std::fs::write(p, contents)).await
}

/// Creates the directory `path` and every missing parent, like
/// `std::fs::create_dir_all` (a directory that exists already is not an
/// error).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_pool(path.as_ref(), |p| std::fs::create_dir_all(p)).await
}

/// Removes the file at `path`, like `std::fs::remove_file`.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    on_pool(path.as_ref(), |p| std::fs::remove_file(p)).await
}

/// Removes the empty directory at `path`, like `std::fs::remove_dir`.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_pool(path.as_ref(), |p| std::fs::remove_dir(p)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file, like
/// `std::fs::rename`.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    on_pool2(from.as_ref(), to.as_ref(), |a, b| std::fs::rename(a, b)).await
}

/// The metadata of `path`, following symbolic links, like
/// `std::fs::metadata`.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    on_pool(path.as_ref(), |p| std::fs::metadata(p)).await
}

/// Copies the contents (and permissions) of the file `from` to `to`,
/// replacing `to`, and returns the bytes copied, like `std::fs::copy`.
///
/// On Windows the standard library counts the bytes in `CopyFileExW`'s
/// progress routine, which Wine never calls (so it says 0 for any file);
/// a count of 0 there is checked against the length of the copy.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    on_pool2(from.as_ref(), to.as_ref(), |a, b| {
        let n = std::fs::copy(a, b)?;
        if cfg!(windows) && n == 0 {
            return Ok(std::fs::metadata(b)?.len());
        }
        Ok(n)
    })
    .await
}
