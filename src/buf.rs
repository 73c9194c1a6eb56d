//! Buffers that can be handed to the kernel: [`IoBuf`] and [`IoBufMut`].
//!
//! Completion-based I/O (overlapped I/O on Windows, the blocking pool behind
//! files on Linux) lets the operating system read or write a buffer *after*
//! the call that started the operation has returned. If the buffer were
//! borrowed, dropping the future (cancelling the operation) would end the
//! borrow while the kernel may still be writing into it. So these operations
//! take the buffer **by value**, keep it alive (owned by the runtime's driver)
//! until the kernel is done with it, and give it back with the result:
//! `(io::Result<usize>, B)`.
//!
//! The traits promise what the driver relies on: a pointer that stays valid
//! and does not move while the buffer value itself is moved around, and an
//! honest initialised length (and, for [`IoBufMut`], capacity).

/// A buffer whose initialised bytes can be read by the kernel after the
/// buffer value has been moved into the runtime.
///
/// Implemented for `Vec<u8>`, `Box<[u8]>`, `String`, `&'static [u8]` and
/// `&'static str`.
///
/// # Safety
///
/// An implementor promises that:
/// - [`stable_ptr`](IoBuf::stable_ptr) points to at least
///   [`bytes_init`](IoBuf::bytes_init) initialised bytes;
/// - that pointer stays valid, and keeps pointing at the same bytes, when the
///   buffer value is moved, until the value is dropped or accessed through
///   `&mut` (the runtime does neither while the kernel uses the bytes);
/// - both methods return the same values each time they are called while the
///   buffer is not mutated.
pub unsafe trait IoBuf: 'static {
    /// A pointer to the first byte. It must not change when `self` moves.
    fn stable_ptr(&self) -> *const u8;

    /// How many bytes from [`stable_ptr`](IoBuf::stable_ptr) are initialised
    /// (what a write sends).
    fn bytes_init(&self) -> usize;
}

/// A buffer the kernel can write into, in its spare capacity (from
/// `bytes_init()` up to `bytes_total()`).
///
/// Implemented for `Vec<u8>`.
///
/// # Safety
///
/// As for [`IoBuf`], and moreover:
/// - [`stable_mut_ptr`](IoBufMut::stable_mut_ptr) points to
///   [`bytes_total`](IoBufMut::bytes_total) bytes that may be written
///   (initialised or not), at the same address as
///   [`stable_ptr`](IoBuf::stable_ptr), and stays valid when the value
///   moves;
/// - after [`set_init(n)`](IoBufMut::set_init) with `n <= bytes_total()`,
///   `bytes_init()` returns `n`.
pub unsafe trait IoBufMut: IoBuf {
    /// A pointer to the first byte, valid for writes of `bytes_total()`
    /// bytes. It must not change when `self` moves.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// The capacity: how many bytes may be written from
    /// [`stable_mut_ptr`](IoBufMut::stable_mut_ptr).
    fn bytes_total(&self) -> usize;

    /// Declares the first `n` bytes initialised.
    ///
    /// # Safety
    /// `n <= bytes_total()`, and the first `n` bytes must really have been
    /// initialised (by the caller or the kernel).
    unsafe fn set_init(&mut self, n: usize);
}

// SAFETY: a Vec's heap block does not move when the Vec value moves; `len`
// bytes are initialised and `capacity` bytes are allocated. An empty Vec's
// dangling pointer is never dereferenced (length 0).
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for IoBuf; `set_len` is exactly Vec's contract.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: the caller guarantees n <= capacity and n bytes initialised.
        unsafe { self.set_len(n) }
    }
}

// SAFETY: a boxed slice's heap block does not move with the box; all of it
// is initialised.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String's bytes live in a heap block that does not move with it.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: 'static data never moves and is never freed.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: 'static data never moves and is never freed.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

/// The spare capacity of `buf` as `(pointer, length)`: where a read lands.
pub(crate) fn spare<B: IoBufMut>(buf: &mut B) -> (*mut u8, usize) {
    let init = buf.bytes_init();
    let total = buf.bytes_total();
    debug_assert!(init <= total);
    // SAFETY: `init <= total` and the pointer is valid for `total` bytes, so
    // the offset stays inside (or one past) the allocation.
    (unsafe { buf.stable_mut_ptr().add(init) }, total - init)
}

/// Declares `n` more bytes initialised after a read wrote them.
///
/// # Safety
/// The `n` bytes after `bytes_init()` must have been written, and
/// `bytes_init() + n <= bytes_total()`.
pub(crate) unsafe fn advance<B: IoBufMut>(buf: &mut B, n: usize) {
    let init = buf.bytes_init();
    // SAFETY: forwarded from the caller.
    unsafe { buf.set_init(init + n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_survive_moves_and_lengths_are_honest() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"abc");
        let p = v.stable_ptr();
        let moved = Box::new(v);
        assert_eq!(moved.stable_ptr(), p);
        assert_eq!(moved.bytes_init(), 3);
        assert!(moved.bytes_total() >= 16);

        let mut v = *moved;
        let (ptr, n) = spare(&mut v);
        assert_eq!(n, v.capacity() - 3);
        // SAFETY: writing one byte into the spare capacity, then declaring it.
        unsafe {
            ptr.write(b'd');
            advance(&mut v, 1);
        }
        assert_eq!(v, b"abcd");

        assert_eq!(IoBuf::bytes_init(&"hello"), 5);
        assert_eq!(IoBuf::bytes_init(&&b"xy"[..]), 2);
        assert_eq!(String::from("héllo").bytes_init(), 6);
        assert_eq!(vec![1u8; 7].into_boxed_slice().bytes_init(), 7);
    }
}
