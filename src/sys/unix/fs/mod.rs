//! Files on Linux: positional I/O on the runtime's io_uring ring, or on
//! the blocking pool where there is none.
//!
//! **Ring** (`Statistics::file_backend == "io_uring"`): the kernel reads and
//! writes the caller's own buffer; the operation's future owns it (with the
//! file, so the fd cannot be reused under the kernel) and, if dropped in
//! flight, hands both to the ring's record until the completion arrives
//! (`driver::uring`). The file's fence gets a signal fired by that
//! completion, so the file's next call waits for it: a cancelled write
//! either never landed or landed before that call. An operation dropped
//! before the run loop handed it to the kernel never runs.
//!
//! **Pool**: the kernel writes into a buffer owned by the pool's job and
//! the bytes are copied into the caller's buffer on the runtime thread: the
//! caller's buffer type need not be `Send`, and a dropped future never
//! leaves the pool writing into freed memory. Every call goes through the
//! file's fence: dropped before a pool thread took it, it never runs;
//! dropped while running, it holds the file's later calls until it is over
//! (a `pwrite` cannot be stopped, and must not land over a later one).

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use crate::buf::{self, IoBuf, IoBufMut};
use crate::runtime::fence::Fence;
use crate::runtime::spawn_blocking_fenced;

#[cfg(target_os = "linux")]
mod ring;

pub(crate) fn add_open_flags(o: &mut std::fs::OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    o.custom_flags(libc::O_CLOEXEC);
}

pub(crate) fn prepare(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

/// The offset as `off_t` (`mod.rs` already refused larger ones).
fn offset(pos: u64) -> io::Result<libc::off_t> {
    libc::off_t::try_from(pos).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file offset {pos} is too large"),
        )
    })
}

/// Runs `call` until it is not interrupted by a signal.
fn retry(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let r = call();
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

pub(crate) async fn read_at<B: IoBufMut>(
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    mut buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    let off = match offset(pos) {
        Ok(o) => o,
        Err(e) => return (Err(e), buf),
    };
    let (_, want) = buf::spare(&mut buf);
    if let Err(e) = crate::error::check_file_range(pos, want) {
        return (Err(e), buf);
    }
    if want == 0 {
        return (Ok(0), buf);
    }
    #[cfg(target_os = "linux")]
    if let Some(r) = ring::current() {
        return ring::read_at(r, file, fence, buf, pos).await;
    }
    let file = file.clone();
    let got = spawn_blocking_fenced(fence, move || {
        let mut tmp = Vec::<u8>::with_capacity(want);
        // SAFETY: `tmp` has room for `want` bytes; pread writes at most that.
        let n =
            retry(|| unsafe { libc::pread(file.as_raw_fd(), tmp.as_mut_ptr().cast(), want, off) })?;
        // SAFETY: the kernel initialised `n <= want` bytes.
        unsafe { tmp.set_len(n) };
        Ok(tmp)
    })
    .await;
    match got {
        Ok(tmp) => {
            let (dst, room) = buf::spare(&mut buf);
            debug_assert!(tmp.len() <= room);
            // SAFETY: `tmp.len() <= want == room` bytes fit in the spare
            // capacity; the two allocations are distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, tmp.len());
                buf::advance(&mut buf, tmp.len());
            }
            (Ok(tmp.len()), buf)
        }
        Err(e) => (Err(e), buf),
    }
}

pub(crate) async fn write_at<B: IoBuf>(
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    let off = match offset(pos) {
        Ok(o) => o,
        Err(e) => return (Err(e), buf),
    };
    let len = buf.bytes_init();
    if let Err(e) = crate::error::check_file_range(pos, len) {
        return (Err(e), buf);
    }
    if len == 0 {
        return (Ok(0), buf);
    }
    #[cfg(target_os = "linux")]
    if let Some(r) = ring::current() {
        return ring::write_at(r, file, fence, buf, pos).await;
    }
    // SAFETY: IoBuf promises `bytes_init` initialised bytes at `stable_ptr`.
    let data = unsafe { std::slice::from_raw_parts(buf.stable_ptr(), len) }.to_vec();
    let file = file.clone();
    let r = spawn_blocking_fenced(fence, move || {
        // SAFETY: `data` holds `data.len()` readable bytes.
        retry(|| unsafe { libc::pwrite(file.as_raw_fd(), data.as_ptr().cast(), data.len(), off) })
    })
    .await;
    (r, buf)
}

/// `fsync` (`data_only`: `fdatasync`), on the ring when there is one.
pub(crate) async fn sync(
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    data_only: bool,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if let Some(r) = ring::current() {
        return ring::sync(r, file, fence, data_only).await;
    }
    let file = file.clone();
    spawn_blocking_fenced(fence, move || {
        if data_only {
            file.sync_data()
        } else {
            file.sync_all()
        }
    })
    .await
}

/// Linux file systems keep unwritten ranges as holes without being asked.
pub(crate) fn set_sparse(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}
