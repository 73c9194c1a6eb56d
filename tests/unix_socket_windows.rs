//! Windows specifics of `oneport::net`'s Unix domain sockets: what Windows
//! lacks fails with a clear `Unsupported` error, never a panic or a hang.
//!
//! Windows has `AF_UNIX` stream sockets (Windows 10 version 1803 on) but
//! no Unix datagrams and no `socketpair`; Wine has no `AF_UNIX` at all
//! (`socket()` fails with `WSAEAFNOSUPPORT`, 10047). The stream data path
//! itself is tested in `unix_socket.rs`, on Unix and wherever Windows has
//! `AF_UNIX`.
#![cfg(windows)]
mod common;

use std::io;
use std::path::PathBuf;

use common::within;
use oneport::net::{UnixDatagram, UnixListener, UnixStream};

/// Whether this Windows makes `AF_UNIX` stream sockets, asked of Winsock
/// itself rather than of oneport.
fn af_unix() -> bool {
    match socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None) {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(10047) => false,
        Err(e) => panic!("making an AF_UNIX stream socket failed: {e}"),
    }
}

fn sock_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("oneport-uds-win-{}-{name}", std::process::id()))
}

fn assert_unsupported(e: &io::Error, says: &str) {
    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
    assert!(
        e.to_string().contains(says),
        "{e:?} does not mention {says:?}"
    );
}

#[test]
fn datagrams_and_pairs_are_unsupported_on_windows() {
    within(60, || {
        oneport::run(async {
            let path = sock_path("dgram.sock");
            let e = UnixDatagram::bind(&path).unwrap_err();
            assert_unsupported(&e, "no AF_UNIX datagram");
            assert!(!path.exists(), "a failed bind leaves no file");
            assert_unsupported(&UnixDatagram::unbound().unwrap_err(), "no AF_UNIX datagram");
            assert_unsupported(&UnixDatagram::pair().unwrap_err(), "no AF_UNIX datagram");
            assert_unsupported(&UnixStream::pair().unwrap_err(), "socketpair");
        })
    });
}

#[test]
fn without_af_unix_bind_and_connect_say_so() {
    if af_unix() {
        println!("this Windows has AF_UNIX: unix_socket.rs runs the stream tests here");
        return;
    }
    within(60, || {
        oneport::run(async {
            let path = sock_path("stream.sock");
            let e = UnixListener::bind(&path).unwrap_err();
            assert_unsupported(&e, "no AF_UNIX sockets");
            assert_unsupported(&e, "10047");
            assert!(!path.exists(), "a failed bind leaves no file");
            let e = UnixStream::connect(&path).await.unwrap_err();
            assert_unsupported(&e, "no AF_UNIX sockets");
            // Asking again gives the same answer: nothing was left half-made.
            let e = UnixListener::bind(&path).unwrap_err();
            assert_unsupported(&e, "no AF_UNIX sockets");
        })
    });
    println!(
        "no AF_UNIX on this Windows: checked the Unsupported errors; the data path was skipped"
    );
}

#[test]
fn a_path_that_is_not_utf8_is_invalid_input() {
    use std::os::windows::ffi::OsStringExt;
    // An unpaired surrogate: a valid Windows file name, but not UTF-8,
    // which is what Winsock wants in `sun_path`.
    let name = std::ffi::OsString::from_wide(&[0xd800, b'x' as u16]);
    let path = std::env::temp_dir().join(name);
    within(60, move || {
        oneport::run(async move {
            let e = UnixListener::bind(&path).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
            let e = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        })
    });
}
