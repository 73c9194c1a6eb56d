//! Named pipes over the completion port: many clients, large transfers with
//! the caller's sizes, message mode, end of stream, disconnect.
#![cfg(windows)]
mod common;

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::within;
use futures_io::{AsyncRead, AsyncWrite};
use oneport::lowlevel::{statistics, wait_all_tasks_blocked};
use oneport::windows::named_pipe::{
    ClientOptions, MessageRead, NamedPipeClient, NamedPipeServer, PipeMode, ServerOptions,
};

fn pipe_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\oneport-np-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn read_some<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, buf)).await
}

async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, buf)).await?;
        buf = &buf[n..];
    }
    poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
}

/// Whether this process runs under Wine (ntdll exports `wine_get_version`).
fn running_on_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
    // SAFETY: NUL-terminated names; ntdll is always loaded.
    unsafe {
        let m = GetModuleHandleW(ntdll.as_ptr());
        !m.is_null() && GetProcAddress(m, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

/// Opens a client, retrying while every instance is busy.
async fn open_client(name: &str) -> NamedPipeClient {
    loop {
        match ClientOptions::new().open(name) {
            Ok(c) => return c,
            Err(e) if e.raw_os_error() == Some(231) => {
                oneport::time::sleep(Duration::from_millis(2)).await
            }
            Err(e) => panic!("open {name}: {e}"),
        }
    }
}

/// A connected server/client pair in `mode`.
async fn pair(tag: &str, mode: PipeMode) -> (NamedPipeServer, NamedPipeClient) {
    let name = pipe_name(tag);
    let server = ServerOptions::new()
        .first_pipe_instance(true)
        .pipe_mode(mode)
        .create(&name)
        .unwrap();
    let client = ClientOptions::new().pipe_mode(mode).open(&name).unwrap();
    server.connect().await.unwrap(); // already connected: returns at once
    (server, client)
}

#[test]
fn many_clients_are_served_by_instances_of_one_name() {
    within(30, || {
        oneport::run(async {
            let name = pipe_name("many");
            let clients = 12;
            let mut server = ServerOptions::new()
                .first_pipe_instance(true)
                .create(&name)
                .unwrap();
            let acceptor = {
                let name = name.clone();
                oneport::spawn(async move {
                    let mut echoes = Vec::new();
                    for _ in 0..clients {
                        server.connect().await.unwrap();
                        let next = ServerOptions::new().create(&name).unwrap();
                        let mut conn = std::mem::replace(&mut server, next);
                        echoes.push(oneport::spawn(async move {
                            let mut buf = [0u8; 64];
                            let n = read_some(&mut conn, &mut buf).await.unwrap();
                            write_all(&mut conn, &buf[..n]).await.unwrap();
                            // Wait for the client to hang up.
                            assert_eq!(read_some(&mut conn, &mut buf).await.unwrap(), 0);
                        }));
                    }
                    for e in echoes {
                        e.await;
                    }
                })
            };
            let tasks: Vec<_> = (0..clients)
                .map(|i| {
                    let name = name.clone();
                    oneport::spawn(async move {
                        let mut c = open_client(&name).await;
                        let msg = format!("hello from client {i}");
                        write_all(&mut c, msg.as_bytes()).await.unwrap();
                        let mut buf = [0u8; 64];
                        let n = read_some(&mut c, &mut buf).await.unwrap();
                        assert_eq!(&buf[..n], msg.as_bytes());
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
            acceptor.await;
        });
    });
}

#[test]
fn sixty_four_mebibytes_in_one_mebibyte_reads_and_writes() {
    within(60, || {
        oneport::run(async {
            let (server, mut client) = pair("big", PipeMode::Byte).await;
            const TOTAL: usize = 64 << 20;
            const CHUNK: usize = 1 << 20;
            let writer = oneport::spawn(async move {
                let mut sent = 0;
                while sent < TOTAL {
                    let chunk: Vec<u8> = (sent..sent + CHUNK).map(|i| (i % 251) as u8).collect();
                    write_all(&mut client, &chunk).await.unwrap();
                    sent += CHUNK;
                }
            });
            let mut received = 0usize;
            let mut largest = 0usize;
            let mut buf = Vec::with_capacity(CHUNK);
            while received < TOTAL {
                buf.clear();
                let (r, b) = server.read(buf).await;
                buf = b;
                let n = r.unwrap();
                assert!(n > 0, "early end of stream at {received}");
                largest = largest.max(n);
                for (i, &byte) in buf.iter().enumerate() {
                    if byte != ((received + i) % 251) as u8 {
                        panic!("byte {} corrupted", received + i);
                    }
                }
                received += n;
            }
            writer.await;
            assert_eq!(received, TOTAL);
            assert!(
                largest > 4096,
                "no read returned more than 4 KiB (largest {largest})"
            );
        });
    });
}

#[test]
fn async_read_uses_the_callers_size() {
    within(30, || {
        oneport::run(async {
            let (mut server, client) = pair("size", PipeMode::Byte).await;
            let data: Vec<u8> = (0..256 * 1024u32).map(|i| i as u8).collect();
            let expect = data.clone();
            let writer = oneport::spawn(async move {
                let (r, _) = client.write(data).await;
                assert_eq!(r.unwrap(), 256 * 1024);
                client
            });
            let mut got = Vec::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut largest = 0;
            while got.len() < expect.len() {
                let n = read_some(&mut server, &mut buf).await.unwrap();
                assert!(n > 0);
                largest = largest.max(n);
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, expect);
            assert!(largest > 4096, "largest read {largest}");
            drop(writer.await);
            assert_eq!(
                read_some(&mut server, &mut buf).await.unwrap(),
                0,
                "end of stream"
            );
        });
    });
}

#[test]
fn a_message_longer_than_the_read_buffer_arrives_in_parts() {
    within(20, || {
        oneport::run(async {
            let (server, client) = pair("msg", PipeMode::Message).await;
            client.write(&b"0123456789"[..]).await.0.unwrap();
            client.write(&b"ab"[..]).await.0.unwrap();
            let mut parts = Vec::new();
            loop {
                let (r, v) = server.read_message(Vec::with_capacity(4)).await;
                let m = r.unwrap();
                parts.push((v, m.complete));
                if m.complete {
                    break;
                }
            }
            assert_eq!(
                parts,
                [
                    (b"0123".to_vec(), false),
                    (b"4567".to_vec(), false),
                    (b"89".to_vec(), true)
                ]
            );
            let (r, v) = server.read_message(Vec::with_capacity(4)).await;
            assert_eq!(
                r.unwrap(),
                MessageRead {
                    bytes: 2,
                    complete: true
                }
            );
            assert_eq!(v, b"ab");
            // The plain read reports the parts as bytes.
            client.write(&b"xyzzy"[..]).await.0.unwrap();
            let (r, v) = server.read(Vec::with_capacity(3)).await;
            assert_eq!((r.unwrap(), &v[..]), (3, &b"xyz"[..]));
            let (r, v) = server.read(Vec::with_capacity(3)).await;
            assert_eq!((r.unwrap(), &v[..]), (2, &b"zy"[..]));
            // Messages go the other way too.
            server.write(String::from("reply")).await.0.unwrap();
            let (r, v) = client.read_message(Vec::with_capacity(16)).await;
            assert_eq!(
                r.unwrap(),
                MessageRead {
                    bytes: 5,
                    complete: true
                }
            );
            assert_eq!(v, b"reply");
        });
    });
}

#[test]
fn peer_close_ends_a_pending_read_and_fails_writes() {
    within(20, || {
        oneport::run(async {
            let (mut server, client) = pair("close", PipeMode::Byte).await;
            let reader = oneport::spawn(async move {
                let mut buf = [0u8; 16];
                let n = read_some(&mut server, &mut buf).await;
                (n, server)
            });
            wait_all_tasks_blocked().await;
            assert_eq!(statistics().tasks_waiting_overlapped, 1);
            drop(client);
            let (n, server) = reader.await;
            assert_eq!(n.unwrap(), 0, "end of stream");
            let (r, _) = server.write(&b"anyone?"[..]).await;
            let e = r.unwrap_err();
            assert!(
                e.kind() == io::ErrorKind::BrokenPipe || e.raw_os_error() == Some(232),
                "got {e:?}"
            );
            let (r, _) = server.read(Vec::with_capacity(4)).await;
            assert_eq!(r.unwrap(), 0);
        });
    });
}

#[test]
fn disconnect_ends_the_client_and_the_instance_serves_another() {
    within(20, || {
        oneport::run(async {
            let name = pipe_name("disc");
            let server = ServerOptions::new()
                .first_pipe_instance(true)
                .create(&name)
                .unwrap();
            let first = ClientOptions::new().open(&name).unwrap();
            server.connect().await.unwrap();
            first.write(&b"one"[..]).await.0.unwrap();
            let (_, v) = server.read(Vec::with_capacity(8)).await;
            assert_eq!(v, b"one");
            server.disconnect().unwrap();
            let (r, _) = first.read(Vec::with_capacity(8)).await;
            assert_eq!(r.unwrap(), 0, "a disconnected client reads end of stream");

            let connecting = oneport::spawn(async move { server.connect().await.map(|()| server) });
            wait_all_tasks_blocked().await;
            let second = ClientOptions::new().open(&name).unwrap();
            let server = connecting.await.unwrap();
            second.write(&b"two"[..]).await.0.unwrap();
            let (_, v) = server.read(Vec::with_capacity(8)).await;
            assert_eq!(v, b"two");
        });
    });
}

#[test]
fn options_are_checked_and_first_instance_is_exclusive() {
    within(20, || {
        oneport::run(async {
            let name = pipe_name("opts");
            let _first = ServerOptions::new()
                .first_pipe_instance(true)
                .create(&name)
                .unwrap();
            let second = ServerOptions::new().first_pipe_instance(true).create(&name);
            if running_on_wine() {
                // Wine 8 ignores FILE_FLAG_FIRST_PIPE_INSTANCE.
                drop(second);
            } else {
                let e = second.unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "got {e:?}");
            }
            let e = ServerOptions::new()
                .max_instances(0)
                .create(pipe_name("x"))
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let e = ServerOptions::new()
                .max_instances(256)
                .create(pipe_name("x"))
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let e = ServerOptions::new().create("bad\0name").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let e = ClientOptions::new().open(pipe_name("nobody")).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "got {e:?}");

            // One instance only: a second client is told the pipe is busy.
            let single = pipe_name("single");
            let _s = ServerOptions::new()
                .max_instances(1)
                .create(&single)
                .unwrap();
            let _c = ClientOptions::new().open(&single).unwrap();
            let e = ClientOptions::new().open(&single).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(231), "got {e:?}");
        });
    });
}

#[test]
fn a_dropped_connect_and_dropped_reads_leave_nothing_behind() {
    within(20, || {
        oneport::run(async {
            let name = pipe_name("drops");
            let server = ServerOptions::new().create(&name).unwrap();
            {
                let connect = oneport::time::timeout(Duration::from_millis(20), server.connect());
                assert!(connect.await.is_err(), "nobody connected");
            }
            let client = ClientOptions::new().open(&name).unwrap();
            server.connect().await.unwrap();
            for _ in 0..50 {
                let r = oneport::time::timeout(
                    Duration::from_millis(1),
                    server.read(Vec::with_capacity(8)),
                )
                .await;
                assert!(r.is_err());
            }
            client.write(&b"after"[..]).await.0.unwrap();
            let (r, v) = server.read(Vec::with_capacity(8)).await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(v, b"after");
            oneport::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(statistics().overlapped_orphaned, 0);
            assert_eq!(statistics().tasks_waiting_overlapped, 0);
        });
    });
}

#[test]
fn bytes_read_for_a_larger_buffer_are_kept_for_smaller_reads() {
    within(20, || {
        oneport::run(async {
            let (mut server, client) = pair("shrink", PipeMode::Byte).await;
            // Start a 64-byte read, leave it in flight.
            let mut big = [0u8; 64];
            let first =
                poll_fn(|cx| std::task::Poll::Ready(Pin::new(&mut server).poll_read(cx, &mut big)))
                    .await;
            assert!(first.is_pending());
            let data: Vec<u8> = (1..=40).collect();
            client.write(data.clone()).await.0.unwrap();
            // Now read with a smaller buffer: nothing of the 40 is lost.
            let mut got = Vec::new();
            let mut small = [0u8; 7];
            while got.len() < 40 {
                let n = read_some(&mut server, &mut small).await.unwrap();
                assert!(n > 0 && n <= 7);
                got.extend_from_slice(&small[..n]);
            }
            assert_eq!(got, data);
        });
    });
}

#[test]
fn a_failed_background_write_is_reported_by_the_next_write_or_flush() {
    within(20, || {
        oneport::run(async {
            let (server, mut client) = pair("wfail", PipeMode::Byte).await;
            drop(server);
            // Either the write itself or the flush after it reports the
            // broken pipe; it is never silently lost.
            let write = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, b"lost?")).await;
            let flushed = poll_fn(|cx| Pin::new(&mut client).poll_flush(cx)).await;
            let err = write.err().or(flushed.err()).expect("an error");
            assert!(
                err.kind() == io::ErrorKind::BrokenPipe || err.raw_os_error() == Some(232),
                "got {err:?}"
            );
        });
    });
}
