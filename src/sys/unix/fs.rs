//! Files on Linux: positional I/O on the blocking pool.
//!
//! The kernel writes into a buffer owned by the pool's job and the bytes are
//! copied into the caller's buffer on the runtime thread: the caller's
//! buffer type need not be `Send`, and a dropped future never leaves the
//! pool writing into freed memory. Every call goes through the file's
//! fence: dropped before a pool thread took it, it never runs; dropped while
//! running, it holds the file's later calls until it is over (a `pwrite`
//! cannot be stopped, and must not land over a later one).

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use crate::buf::{self, IoBuf, IoBufMut};
use crate::runtime::fence::Fence;
use crate::runtime::spawn_blocking_fenced;

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
    // SAFETY: IoBuf promises `bytes_init` initialised bytes at `stable_ptr`.
    let data = unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) }.to_vec();
    if let Err(e) = crate::error::check_file_range(pos, data.len()) {
        return (Err(e), buf);
    }
    if data.is_empty() {
        return (Ok(0), buf);
    }
    let file = file.clone();
    let r = spawn_blocking_fenced(fence, move || {
        // SAFETY: `data` holds `data.len()` readable bytes.
        retry(|| unsafe { libc::pwrite(file.as_raw_fd(), data.as_ptr().cast(), data.len(), off) })
    })
    .await;
    (r, buf)
}

/// Linux file systems keep unwritten ranges as holes without being asked.
pub(crate) fn set_sparse(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}
