//! Finding the base socket behind a socket handle.
//!
//! AFD polls work on the socket the AFD driver created (the *base* socket).
//! A layered service provider (LSP) may hand applications a socket of its
//! own stacked on top of it; polling that one would never report anything.
//! So every readiness call first resolves the base handle (WINDOWS.md rule
//! 6): `SIO_BASE_HANDLE`, and when a provider hides that (Komodia-style
//! LSPs do), `SIO_BSP_HANDLE_POLL` — which peels off one layer — repeated
//! until `SIO_BASE_HANDLE` answers.
//!
//! At start-up (rule 7) a throwaway socket checks the machine's provider
//! stack: if `SIO_BASE_HANDLE` works but `SIO_BSP_HANDLE_SELECT` names
//! another socket, an LSP intercepts `select` and readiness reported by AFD
//! would bypass it; oneport refuses to start rather than misbehave. A
//! provider without the `SIO_BSP_HANDLE_*` ioctls at all (`WSAEOPNOTSUPP`,
//! as Wine) has no layering to check.
//!
//! The ioctls go through [`SocketIoctl`] so that tests can play a layered
//! provider: a driver takes the system implementation, or (in unit tests
//! only) a fake installed for the current thread.

use std::io;
use std::os::windows::io::AsRawSocket;
use std::rc::Rc;

use windows_sys::Win32::Networking::WinSock::{
    getsockopt, WSAGetLastError, WSAIoctl, INVALID_SOCKET, SIO_BASE_HANDLE, SIO_BSP_HANDLE_POLL,
    SIO_BSP_HANDLE_SELECT, SOCKET, SOCKET_ERROR, SOL_SOCKET, SO_TYPE, WSAENOTSOCK, WSAEOPNOTSUPP,
};

use crate::driver::RawSock;

/// Layers peeled off at most: a provider chain deeper than this (or a
/// cycle) is treated as a broken configuration instead of looping.
const MAX_LAYERS: usize = 16;

/// The one place the socket ioctls of this module are made.
pub(crate) trait SocketIoctl {
    /// `WSAIoctl(sock, code)` for an ioctl that returns a `SOCKET`: the
    /// socket, or the Winsock error code.
    fn query(&self, sock: RawSock, code: u32) -> Result<RawSock, i32>;
}

/// The real `WSAIoctl`.
pub(crate) struct SystemIoctl;

impl SocketIoctl for SystemIoctl {
    fn query(&self, sock: RawSock, code: u32) -> Result<RawSock, i32> {
        let mut out: SOCKET = INVALID_SOCKET;
        let mut bytes = 0u32;
        // SAFETY: no input buffer; the output buffer is a live SOCKET of the
        // size given; the call is synchronous (no OVERLAPPED, no routine).
        let r = unsafe {
            WSAIoctl(
                sock as SOCKET,
                code,
                std::ptr::null(),
                0,
                (&mut out as *mut SOCKET).cast(),
                size_of::<SOCKET>() as u32,
                &mut bytes,
                std::ptr::null_mut(),
                None,
            )
        };
        if r == SOCKET_ERROR {
            // SAFETY: reads this thread's last Winsock error.
            return Err(unsafe { WSAGetLastError() });
        }
        Ok(out as RawSock)
    }
}

/// The ioctls a new driver uses: the system's, unless a test installed a
/// fake for this thread.
pub(crate) fn for_new_driver() -> Rc<dyn SocketIoctl> {
    #[cfg(test)]
    if let Some(fake) = tests::installed_fake() {
        return fake;
    }
    Rc::new(SystemIoctl)
}

pub(crate) fn wsa_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn hidden_base_error(sock: RawSock, base_err: i32, why: &str) -> io::Error {
    io::Error::other(format!(
        "oneport: cannot find the base socket of socket {sock:#x}: SIO_BASE_HANDLE failed \
         ({}) and {why}. A layered service provider hides the socket in a way oneport does not \
         understand; this network configuration is unexpected. `netsh winsock show catalog` \
         lists the installed providers",
        wsa_error(base_err)
    ))
}

/// The base socket of `sock` (WINDOWS.md rule 6). A handle that is not a
/// socket gives `WSAENOTSOCK` (10038).
pub(crate) fn resolve(ioctl: &dyn SocketIoctl, sock: RawSock) -> io::Result<RawSock> {
    let mut s = sock;
    for _ in 0..MAX_LAYERS {
        let base_err = match ioctl.query(s, SIO_BASE_HANDLE) {
            Ok(base) => return Ok(base),
            Err(WSAENOTSOCK) => return Err(wsa_error(WSAENOTSOCK)),
            Err(e) => e,
        };
        match ioctl.query(s, SIO_BSP_HANDLE_POLL) {
            Ok(next) if next != s => s = next,
            Ok(_) => {
                return Err(hidden_base_error(
                    s,
                    base_err,
                    "SIO_BSP_HANDLE_POLL returned the same socket",
                ))
            }
            Err(WSAENOTSOCK) => return Err(wsa_error(WSAENOTSOCK)),
            Err(WSAEOPNOTSUPP) => {
                return Err(hidden_base_error(
                    s,
                    base_err,
                    "the provider does not support SIO_BSP_HANDLE_POLL",
                ))
            }
            Err(e) => {
                return Err(hidden_base_error(
                    s,
                    base_err,
                    &format!("SIO_BSP_HANDLE_POLL failed too ({})", wsa_error(e)),
                ))
            }
        }
    }
    Err(io::Error::other(format!(
        "oneport: cannot find the base socket of socket {sock:#x}: more than {MAX_LAYERS} \
         layered providers (or a cycle) through SIO_BSP_HANDLE_POLL. This network \
         configuration is unexpected; `netsh winsock show catalog` lists the installed \
         providers"
    )))
}

/// `Err(WSAENOTSOCK)` when `sock` is not a socket at all.
///
/// Windows' `SIO_BASE_HANDLE` already refuses such handles, but Wine's
/// answers any handle with itself, and the AFD poll then fails with
/// `ERROR_INVALID_HANDLE`. The driver calls this only on those failure
/// paths (a refused poll, `notify_closing` on a socket nobody waits on), so
/// the common path costs nothing more; the error is then the one Windows
/// gives.
pub(crate) fn confirm_socket(sock: RawSock) -> io::Result<()> {
    let mut ty = 0i32;
    let mut len = size_of::<i32>() as i32;
    // SAFETY: the output buffer is a live i32 of the size given.
    let r = unsafe {
        getsockopt(
            sock as SOCKET,
            SOL_SOCKET,
            SO_TYPE,
            (&mut ty as *mut i32).cast(),
            &mut len,
        )
    };
    // SAFETY: reads this thread's last Winsock error.
    if r == SOCKET_ERROR && unsafe { WSAGetLastError() } == WSAENOTSOCK {
        return Err(wsa_error(WSAENOTSOCK));
    }
    Ok(())
}

/// The start-up check of the provider stack (WINDOWS.md rule 7), on a
/// throwaway socket. Creating it also initialises Winsock for the process
/// (the standard library and socket2 call `WSAStartup` once).
pub(crate) fn check_provider_stack(ioctl: &dyn SocketIoctl) -> io::Result<()> {
    use socket2::{Domain, Socket, Type};
    let probe = Socket::new(Domain::IPV4, Type::STREAM, None)
        .or_else(|_| Socket::new(Domain::IPV6, Type::STREAM, None))
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("oneport cannot start: cannot create a probe socket: {e}"),
            )
        })?;
    check_socket(ioctl, probe.as_raw_socket())
}

fn check_socket(ioctl: &dyn SocketIoctl, s: RawSock) -> io::Result<()> {
    let base = match ioctl.query(s, SIO_BASE_HANDLE) {
        Ok(base) => base,
        // The base is hidden: it must at least be reachable the rule-6 way.
        Err(_) => {
            return resolve(ioctl, s)
                .map(drop)
                .map_err(|e| io::Error::new(e.kind(), format!("oneport cannot start: {e}")))
        }
    };
    match ioctl.query(s, SIO_BSP_HANDLE_SELECT) {
        Ok(select) if select == base => Ok(()),
        Ok(select) => Err(io::Error::other(format!(
            "oneport cannot start: a layered service provider intercepts select(): \
             SIO_BASE_HANDLE gave socket {base:#x} but SIO_BSP_HANDLE_SELECT gave {select:#x}, \
             so readiness seen by the AFD driver would bypass that provider. `netsh winsock \
             show catalog` lists the installed providers"
        ))),
        // No SIO_BSP_HANDLE_* at all (Wine): no layering to check.
        Err(WSAEOPNOTSUPP) => Ok(()),
        Err(e) => Err(io::Error::other(format!(
            "oneport cannot start: SIO_BASE_HANDLE works but SIO_BSP_HANDLE_SELECT failed ({}); \
             this network configuration is unexpected. `netsh winsock show catalog` lists the \
             installed providers",
            wsa_error(e)
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Layered providers played by a fake: the real socket calls go through
    //! the system, chosen handles answer as a provider would.

    use super::*;
    use std::cell::{Cell, RefCell};
    use std::net::UdpSocket;

    thread_local! {
        static FAKE: RefCell<Option<Rc<dyn SocketIoctl>>> = const { RefCell::new(None) };
    }

    pub(crate) fn installed_fake() -> Option<Rc<dyn SocketIoctl>> {
        FAKE.with(|f| f.borrow().clone())
    }

    /// Runs `f` with `fake` as the ioctls of drivers created on this thread.
    pub(crate) fn with_fake<T>(fake: impl SocketIoctl + 'static, f: impl FnOnce() -> T) -> T {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                FAKE.with(|f| f.borrow_mut().take());
            }
        }
        FAKE.with(|f| *f.borrow_mut() = Some(Rc::new(fake)));
        let _reset = Reset;
        f()
    }

    /// Answers `code` for `sock` from the rule, the system otherwise; counts
    /// the calls so a loop would show.
    pub(crate) struct Fake<F: Fn(RawSock, u32) -> Option<Result<RawSock, i32>>> {
        rule: F,
        pub(crate) calls: Rc<Cell<usize>>,
    }

    impl<F: Fn(RawSock, u32) -> Option<Result<RawSock, i32>>> SocketIoctl for Fake<F> {
        fn query(&self, sock: RawSock, code: u32) -> Result<RawSock, i32> {
            self.calls.set(self.calls.get() + 1);
            (self.rule)(sock, code).unwrap_or_else(|| SystemIoctl.query(sock, code))
        }
    }

    pub(crate) fn fake<F: Fn(RawSock, u32) -> Option<Result<RawSock, i32>>>(rule: F) -> Fake<F> {
        Fake {
            rule,
            calls: Rc::new(Cell::new(0)),
        }
    }

    pub(crate) const WSAEINVAL: i32 = 10022;
    /// A made-up socket value a fake provider hands to the application.
    pub(crate) const LAYERED: RawSock = 0x7770;

    #[test]
    fn the_system_finds_a_real_socket_itself_and_refuses_a_non_socket() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let raw = s.as_raw_socket();
        assert_eq!(resolve(&SystemIoctl, raw).unwrap(), raw);
        confirm_socket(raw).unwrap();
        // Windows refuses the handle in `resolve`, Wine only in `confirm_socket`.
        let e = resolve(&SystemIoctl, 0x4444_4444)
            .and_then(confirm_socket)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(10038), "{e}");
        check_provider_stack(&SystemIoctl).unwrap();
    }

    #[test]
    fn a_provider_hooking_select_stops_the_runtime_from_starting() {
        let f = fake(|_, code| (code == SIO_BSP_HANDLE_SELECT).then_some(Ok(0x9990)));
        let e = with_fake(f, crate::Runtime::new).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("intercepts select()"), "{msg}");
        assert!(msg.contains("SIO_BSP_HANDLE_SELECT gave 0x9990"), "{msg}");
        assert!(msg.contains("netsh winsock show catalog"), "{msg}");
    }

    #[test]
    fn a_failing_select_query_other_than_unsupported_stops_the_start() {
        let f = fake(|_, code| (code == SIO_BSP_HANDLE_SELECT).then_some(Err(WSAEINVAL)));
        let e = with_fake(f, crate::Runtime::new).unwrap_err();
        assert!(
            e.to_string().contains("SIO_BSP_HANDLE_SELECT failed"),
            "{e}"
        );
    }

    #[test]
    fn a_provider_without_bsp_ioctls_has_nothing_to_check() {
        let f = fake(|_, code| (code != SIO_BASE_HANDLE).then_some(Err(WSAEOPNOTSUPP)));
        with_fake(f, crate::Runtime::new).unwrap();
    }

    #[test]
    fn a_hidden_base_that_poll_cannot_reveal_is_an_error_not_a_loop() {
        // SIO_BASE_HANDLE fails everywhere and SIO_BSP_HANDLE_POLL returns
        // the socket itself: the runtime must refuse to start, once.
        let f = fake(|s, code| match code {
            SIO_BASE_HANDLE => Some(Err(WSAEINVAL)),
            SIO_BSP_HANDLE_POLL => Some(Ok(s)),
            _ => None,
        });
        let calls = f.calls.clone();
        let e = with_fake(f, crate::Runtime::new).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("oneport cannot start"), "{msg}");
        assert!(msg.contains("returned the same socket"), "{msg}");
        assert!(msg.contains("netsh winsock show catalog"), "{msg}");
        assert!(calls.get() <= 3, "{} ioctls: looped", calls.get());
    }

    #[test]
    fn unsupported_poll_ioctl_counts_as_the_same_handle() {
        let f = fake(|s, code| match (s, code) {
            (LAYERED, SIO_BASE_HANDLE) => Some(Err(WSAEINVAL)),
            (LAYERED, _) => Some(Err(WSAEOPNOTSUPP)),
            _ => None,
        });
        let e = resolve(&f, LAYERED).unwrap_err();
        assert!(
            e.to_string()
                .contains("does not support SIO_BSP_HANDLE_POLL"),
            "{e}"
        );
        assert!(e.to_string().contains("netsh winsock show catalog"), "{e}");
    }

    #[test]
    fn a_provider_cycle_ends_in_an_error() {
        let f = fake(|s, code| match code {
            SIO_BASE_HANDLE => Some(Err(WSAEINVAL)),
            SIO_BSP_HANDLE_POLL => Some(Ok(if s == 0x100 { 0x200 } else { 0x100 })),
            _ => None,
        });
        let calls = f.calls.clone();
        let e = resolve(&f, 0x100).unwrap_err();
        assert!(e.to_string().contains("netsh winsock show catalog"), "{e}");
        assert_eq!(calls.get(), 2 * MAX_LAYERS);
    }

    #[test]
    fn a_non_socket_under_a_layer_is_still_not_a_socket() {
        let f = fake(|_, code| match code {
            SIO_BASE_HANDLE => Some(Err(WSAEINVAL)),
            SIO_BSP_HANDLE_POLL => Some(Err(WSAENOTSOCK)),
            _ => None,
        });
        assert_eq!(resolve(&f, 0x100).unwrap_err().raw_os_error(), Some(10038));
    }
}
