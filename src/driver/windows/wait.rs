//! Waiting for a kernel object to be signalled (process exit, events, ...)
//! without a thread of oneport's own (WINDOWS.md rule 27).
//!
//! Every wait ends as one completion packet on the runtime's port, under
//! key 4 (`KEY_OBJECT_WAIT`), which WINDOWS.md rule 2 reserves for this
//! subsystem; user monitors start at 5. The packet's `lpOverlapped`
//! carries the wait's id. Ids come from a counter and are never reused, so a
//! packet that arrives for a wait which was dropped in the meantime can never
//! be mistaken for another wait's: it is recognised as stale, discarded and
//! counted (`Statistics::object_wait_packets_discarded`).
//!
//! Two mechanisms deliver the packet:
//!
//! - `NtAssociateWaitCompletionPacket`: the kernel queues the packet itself
//!   when the object is signalled. It is resolved from ntdll at run time with
//!   `GetProcAddress`: a hard import would stop the program from loading on
//!   systems that lack it (Windows before 8, and Wine 8).
//! - otherwise `RegisterWaitForSingleObject` (`WT_EXECUTEONLYONCE`): the
//!   system thread pool waits, and its callback posts the packet. That pool
//!   belongs to the system, not to oneport, and serves many waits per thread.
//!   Cancelling uses `UnregisterWaitEx(.., INVALID_HANDLE_VALUE)`, which
//!   returns only once a running callback has finished, so the callback's
//!   context is never freed under it.
//!
//! An object that is already signalled completes at once, with no packet:
//! the first poll checks it with a zero-timeout `WaitForSingleObject`, which
//! also turns an invalid handle into an `io::Error` immediately.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::io;
use std::sync::OnceLock;
use std::task::{Poll, Waker};

use windows_sys::Win32::Foundation::{
    CloseHandle, GENERIC_ALL, HANDLE, INVALID_HANDLE_VALUE, NTSTATUS, WAIT_ABANDONED, WAIT_FAILED,
    WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Threading::{
    RegisterWaitForSingleObject, UnregisterWaitEx, WaitForSingleObject, INFINITE,
    WT_EXECUTEONLYONCE,
};
use windows_sys::Win32::System::IO::{PostQueuedCompletionStatus, OVERLAPPED_ENTRY};

use super::keys::KEY_OBJECT_WAIT;
use crate::driver::DriverStats;
use crate::error::ntstatus_error as nt_error;

/// Names one wait; never reused within a driver. 0 is never handed out.
pub(crate) type WaitId = u64;

/// What starting a wait found.
pub(crate) enum Started {
    /// The object was already signalled: done, nothing registered.
    Signalled,
    /// Registered; the packet with this id will complete it.
    Waiting(WaitId),
}

type NtCreateWaitCompletionPacketFn =
    unsafe extern "system" fn(*mut HANDLE, u32, *const c_void) -> NTSTATUS;
type NtAssociateWaitCompletionPacketFn = unsafe extern "system" fn(
    HANDLE,
    HANDLE,
    HANDLE,
    *const c_void,
    *const c_void,
    NTSTATUS,
    usize,
    *mut u8,
) -> NTSTATUS;
type NtCancelWaitCompletionPacketFn = unsafe extern "system" fn(HANDLE, u8) -> NTSTATUS;

/// The wait-completion-packet functions of ntdll, when the system has them.
#[derive(Clone, Copy)]
struct NtWaitApi {
    create: NtCreateWaitCompletionPacketFn,
    associate: NtAssociateWaitCompletionPacketFn,
    cancel: NtCancelWaitCompletionPacketFn,
}

/// Resolves the ntdll functions once per process; `None` where missing.
fn nt_wait_api() -> Option<NtWaitApi> {
    static API: OnceLock<Option<NtWaitApi>> = OnceLock::new();
    *API.get_or_init(|| {
        let name: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
        // SAFETY: `name` is a NUL-terminated wide string; ntdll is always
        // loaded, and a null result is handled.
        let ntdll = unsafe { GetModuleHandleW(name.as_ptr()) };
        if ntdll.is_null() {
            return None;
        }
        // SAFETY: each name is a NUL-terminated byte string; a missing export
        // gives `None`.
        let (create, associate, cancel) = unsafe {
            (
                GetProcAddress(ntdll, c"NtCreateWaitCompletionPacket".as_ptr().cast())?,
                GetProcAddress(ntdll, c"NtAssociateWaitCompletionPacket".as_ptr().cast())?,
                GetProcAddress(ntdll, c"NtCancelWaitCompletionPacket".as_ptr().cast())?,
            )
        };
        // SAFETY: these exports have exactly the signatures declared above
        // (documented in the Windows DevNotes); transmuting between function
        // pointer types of the same ABI is sound when the real signature
        // matches.
        unsafe {
            Some(NtWaitApi {
                create: std::mem::transmute::<
                    unsafe extern "system" fn() -> isize,
                    NtCreateWaitCompletionPacketFn,
                >(create),
                associate: std::mem::transmute::<
                    unsafe extern "system" fn() -> isize,
                    NtAssociateWaitCompletionPacketFn,
                >(associate),
                cancel: std::mem::transmute::<
                    unsafe extern "system" fn() -> isize,
                    NtCancelWaitCompletionPacketFn,
                >(cancel),
            })
        }
    })
}

/// What the thread-pool callback needs to post the packet. Boxed, owned by
/// the registration, freed only after `UnregisterWaitEx` returned.
struct PoolContext {
    port: HANDLE,
    id: WaitId,
}

/// Runs on a system thread-pool thread when the object is signalled.
///
/// # Safety
/// `ctx` must point to a live `PoolContext` (the registration keeps it alive
/// until `UnregisterWaitEx` has waited for this callback to return).
unsafe extern "system" fn pool_callback(ctx: *mut c_void, _timed_out: bool) {
    // SAFETY: per this function's contract `ctx` is a live PoolContext, only
    // read here.
    let ctx = unsafe { &*(ctx as *const PoolContext) };
    // SAFETY: the port stays open while any registration exists (the driver
    // unregisters every wait before closing it); the kernel only copies the
    // id, it never dereferences it.
    unsafe {
        PostQueuedCompletionStatus(ctx.port, 0, KEY_OBJECT_WAIT, ctx.id as usize as *const _)
    };
}

/// The kernel-side half of one wait.
enum Registration {
    /// A wait completion packet object (`NtAssociateWaitCompletionPacket`).
    Packet(HANDLE),
    /// A thread-pool wait and its callback's context.
    Pool { wait: HANDLE, ctx: *mut PoolContext },
}

impl Registration {
    /// Stops the wait (if it has not fired) and frees its resources. A
    /// packet already queued stays queued and will be seen as stale.
    fn release(self, api: Option<NtWaitApi>) {
        match self {
            Registration::Packet(h) => {
                if let Some(api) = api {
                    // SAFETY: `h` is our open packet handle; cancelling an
                    // association that already fired is harmless.
                    unsafe { (api.cancel)(h, 1) };
                }
                // SAFETY: we own `h` and nothing uses it after this.
                unsafe { CloseHandle(h) };
            }
            Registration::Pool { wait, ctx } => {
                // SAFETY: `wait` is our registration. INVALID_HANDLE_VALUE
                // makes the call block until a running callback returned,
                // so `ctx` is unused from here on.
                unsafe { UnregisterWaitEx(wait, INVALID_HANDLE_VALUE) };
                // SAFETY: `ctx` came from Box::into_raw at registration and
                // the callback can no longer run.
                drop(unsafe { Box::from_raw(ctx) });
            }
        }
    }
}

struct Entry {
    /// `None` once the packet arrived (the registration is released then).
    reg: Option<Registration>,
    waker: Option<Waker>,
}

#[derive(Default)]
struct State {
    next_id: WaitId,
    live: HashMap<WaitId, Entry>,
    discarded: u64,
}

/// The driver's waitable-handle subsystem.
pub(crate) struct Waits {
    port: HANDLE,
    api: Option<NtWaitApi>,
    state: RefCell<State>,
}

impl Waits {
    /// `port` must outlive `Waits` (the driver drops `Waits` before the
    /// port).
    pub(crate) fn new(port: HANDLE) -> Waits {
        Waits {
            port,
            api: nt_wait_api(),
            state: RefCell::new(State {
                next_id: 1,
                ..State::default()
            }),
        }
    }

    /// Starts waiting for `handle`; `waker` is woken when it is signalled.
    pub(crate) fn start(&self, handle: HANDLE, waker: &Waker) -> io::Result<Started> {
        // SAFETY: a zero-timeout wait only inspects the handle; an invalid
        // one gives WAIT_FAILED.
        match unsafe { WaitForSingleObject(handle, 0) } {
            WAIT_OBJECT_0 | WAIT_ABANDONED => return Ok(Started::Signalled),
            WAIT_TIMEOUT => {}
            WAIT_FAILED => return Err(io::Error::last_os_error()),
            other => {
                return Err(io::Error::other(format!(
                    "oneport: WaitForSingleObject returned unexpected {other:#x}"
                )))
            }
        }
        let mut st = self.state.borrow_mut();
        let id = st.next_id;
        let reg = match self.api {
            Some(api) => self.register_packet(api, handle, id)?,
            None => self.register_pool(handle, id)?,
        };
        st.next_id += 1;
        st.live.insert(
            id,
            Entry {
                reg: Some(reg),
                waker: Some(waker.clone()),
            },
        );
        Ok(Started::Waiting(id))
    }

    fn register_packet(
        &self,
        api: NtWaitApi,
        handle: HANDLE,
        id: WaitId,
    ) -> io::Result<Registration> {
        let mut packet: HANDLE = std::ptr::null_mut();
        // SAFETY: `packet` is a valid out pointer; no object attributes.
        let status = unsafe { (api.create)(&mut packet, GENERIC_ALL, std::ptr::null()) };
        if status < 0 {
            return Err(nt_error(status));
        }
        // SAFETY: all handles are open; key and id are plain values the
        // kernel hands back in the packet, never dereferenced.
        let status = unsafe {
            (api.associate)(
                packet,
                self.port,
                handle,
                KEY_OBJECT_WAIT as *const c_void,
                id as usize as *const c_void,
                0,
                0,
                std::ptr::null_mut(),
            )
        };
        if status < 0 {
            // SAFETY: we own the packet handle and it is not associated.
            unsafe { CloseHandle(packet) };
            return Err(nt_error(status));
        }
        Ok(Registration::Packet(packet))
    }

    fn register_pool(&self, handle: HANDLE, id: WaitId) -> io::Result<Registration> {
        let ctx = Box::into_raw(Box::new(PoolContext {
            port: self.port,
            id,
        }));
        let mut wait: HANDLE = std::ptr::null_mut();
        // SAFETY: `ctx` stays alive until the registration is released
        // (after UnregisterWaitEx); `wait` is a valid out pointer.
        let ok = unsafe {
            RegisterWaitForSingleObject(
                &mut wait,
                handle,
                Some(pool_callback),
                ctx as *const c_void,
                INFINITE,
                WT_EXECUTEONLYONCE,
            )
        };
        if ok == 0 {
            let e = io::Error::last_os_error();
            // SAFETY: registration failed, so no callback can see `ctx`.
            drop(unsafe { Box::from_raw(ctx) });
            return Err(e);
        }
        Ok(Registration::Pool { wait, ctx })
    }

    /// `Ready` once the packet for `id` arrived; the entry is then gone.
    pub(crate) fn poll(&self, id: WaitId, waker: &Waker) -> Poll<()> {
        let mut st = self.state.borrow_mut();
        let Some(entry) = st.live.get_mut(&id) else {
            panic!("oneport: object wait {id} polled after it finished");
        };
        if entry.reg.is_none() {
            st.live.remove(&id);
            return Poll::Ready(());
        }
        match &entry.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => entry.waker = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// Drops wait `id` (its future was dropped): once this returns no
    /// callback for it runs, and a packet still queued will be discarded.
    pub(crate) fn cancel(&self, id: WaitId) {
        let entry = self.state.borrow_mut().live.remove(&id);
        if let Some(Entry { reg: Some(reg), .. }) = entry {
            reg.release(self.api);
        }
    }

    /// A packet with this subsystem's key was dequeued.
    pub(crate) fn on_packet(&self, entry: &OVERLAPPED_ENTRY) -> Option<Waker> {
        let id = entry.lpOverlapped as usize as WaitId;
        let mut st = self.state.borrow_mut();
        let next_id = st.next_id;
        match st.live.get_mut(&id) {
            Some(e) if e.reg.is_some() => {
                let reg = e.reg.take();
                let waker = e.waker.take();
                drop(st);
                if let Some(reg) = reg {
                    reg.release(self.api);
                }
                waker
            }
            _ if id != 0 && id < next_id => {
                // Its wait was dropped after the object was signalled.
                st.discarded += 1;
                None
            }
            _ => panic!(
                "oneport: internal error: completion key 4 is reserved for oneport's object \
                 waits, but a packet on it names wait {id}, which was never started \
                 (overlapped {:p}, {} bytes); do not post packets on keys 0-4",
                entry.lpOverlapped, entry.dwNumberOfBytesTransferred
            ),
        }
    }

    pub(crate) fn fill_statistics(&self, s: &mut DriverStats) {
        let st = self.state.borrow();
        s.object_waits = st.live.values().filter(|e| e.reg.is_some()).count();
        s.object_wait_packets_discarded = st.discarded;
        s.object_wait_mechanism = if self.api.is_some() {
            "wait-packet"
        } else {
            "thread-pool"
        };
    }
}

impl Drop for Waits {
    fn drop(&mut self) {
        // Runs before the port closes: after this no callback can post.
        let live = std::mem::take(&mut self.state.get_mut().live);
        for (_, entry) in live {
            if let Some(reg) = entry.reg {
                reg.release(self.api);
            }
        }
    }
}
