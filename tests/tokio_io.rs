//! tokio's I/O traits on oneport's streams (feature `tokio-io`): TLS through
//! tokio-rustls on a oneport TCP connection, and tokio's `io-util` helpers
//! (`copy`, `read_to_end`, `write_all`, `shutdown`) over streams, their
//! split halves and, per platform, Unix sockets and named pipes. No tokio
//! runtime runs anywhere here: every future is driven by `oneport::run`.
mod common;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use common::{within, Rng};
use oneport::net::TcpListener;
use oneport::net::TcpStream;
use oneport::spawn;
use oneport::time::timeout;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const HANG: Duration = Duration::from_secs(30);
const MIB: usize = 1 << 20;

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs the future `f` makes on a fresh runtime, on a hang-guarded thread.
fn test<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(120, move || oneport::run(f()));
}

/// `len` bytes that do not repeat with any short period, so a lost,
/// doubled or reordered chunk shows up as a mismatch.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8 ^ (i >> 16) as u8)
        .collect()
}

/// Compares every byte, naming the first that differs (not a 1 MiB dump).
fn assert_same(got: &[u8], want: &[u8]) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "byte {i} differs: got {:#04x}, want {:#04x}",
            got[i], want[i]
        );
    }
    assert_eq!(got.len(), want.len(), "stream length");
}

/// Writes `data` in chunks of pseudo-random sizes, then shuts down.
async fn send_in_chunks<W: AsyncWrite + Unpin>(
    w: &mut W,
    data: &[u8],
    seed: u64,
) -> io::Result<()> {
    let mut rng = Rng(seed);
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(40_000) as usize).min(rest.len());
        w.write_all(&rest[..n]).await?;
        rest = &rest[n..];
    }
    w.shutdown().await
}

/// Reads to end of stream, then checks the end stays the end.
async fn receive_all<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    r.read_to_end(&mut got).await?;
    assert_eq!(
        r.read(&mut [0u8; 16]).await?,
        0,
        "a read after end of stream"
    );
    Ok(got)
}

/// A connected pair: (the connecting side, the accepted side).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(local()).unwrap();
    let addr = l.local_addr().unwrap();
    let accept = spawn(async move { l.accept().await });
    let c = TcpStream::connect(addr).await.unwrap();
    let (s, _) = timeout(HANG, accept).await.unwrap().unwrap();
    (c, s)
}

// ---------------------------------------------------------------- TLS

/// A server and a client configuration that trusts the server's
/// self-signed certificate for `localhost`, made afresh by the test.
fn tls_configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();

    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[test]
fn tls_echoes_a_mebibyte_and_closes_cleanly() {
    test(|| async {
        let (server_cfg, client_cfg) = tls_configs();
        let l = TcpListener::bind(local()).unwrap();
        let addr = l.local_addr().unwrap();

        // The server echoes until the client's close_notify, then closes
        // its side the same way.
        let server = spawn(async move {
            let (tcp, _) = l.accept().await?;
            let tls = TlsAcceptor::from(server_cfg).accept(tcp).await?;
            let (mut r, mut w) = tokio::io::split(tls);
            let n = tokio::io::copy(&mut r, &mut w).await?;
            w.shutdown().await?;
            io::Result::Ok(n)
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = timeout(HANG, TlsConnector::from(client_cfg).connect(name, tcp))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );

        // Writing and reading at once: the echo comes back while the rest
        // is still being sent, more than the socket buffers hold.
        let data = Rc::new(pattern(MIB));
        let (mut r, mut w) = tokio::io::split(tls);
        let writer = spawn({
            let data = data.clone();
            async move { send_in_chunks(&mut w, &data, 7).await }
        });
        // Ends without error only on the server's close_notify: a bare TCP
        // end of stream would be `UnexpectedEof` (see the next test).
        let got = timeout(HANG, receive_all(&mut r)).await.unwrap().unwrap();
        assert_same(&got, &data);
        timeout(HANG, writer).await.unwrap().unwrap();
        assert_eq!(timeout(HANG, server).await.unwrap().unwrap(), MIB as u64);
    });
}

#[test]
fn tls_tells_a_bare_tcp_close_from_a_clean_one() {
    test(|| async {
        let (server_cfg, client_cfg) = tls_configs();
        let l = TcpListener::bind(local()).unwrap();
        let addr = l.local_addr().unwrap();

        // The server sends a greeting, then closes TCP without close_notify.
        let server = spawn(async move {
            let (tcp, _) = l.accept().await?;
            let mut tls = TlsAcceptor::from(server_cfg).accept(tcp).await?;
            tls.write_all(b"hello").await?;
            tls.flush().await?;
            let (tcp, _) = tls.into_inner();
            AsyncWriteExt::shutdown(&mut &tcp).await?;
            io::Result::Ok(tcp)
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = TlsConnector::from(client_cfg)
            .connect(name, tcp)
            .await
            .unwrap();
        let mut hello = [0u8; 5];
        tls.read_exact(&mut hello).await.unwrap();
        assert_eq!(&hello, b"hello");
        let e = timeout(HANG, tls.read(&mut [0u8; 16]))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        drop(timeout(HANG, server).await.unwrap().unwrap());
    });
}

// ------------------------------------------------------- plain streams

#[test]
fn tokio_copy_echoes_over_a_tcp_stream() {
    test(|| async {
        let (c, s) = pair().await;
        // The owned stream, through tokio's own split.
        let server = spawn(async move {
            let (mut r, mut w) = tokio::io::split(s);
            let n = tokio::io::copy(&mut r, &mut w).await?;
            w.shutdown().await?;
            io::Result::Ok(n)
        });
        // Shared references: one task writes while this one reads.
        let c = Rc::new(c);
        let data = Rc::new(pattern(MIB));
        let writer = spawn({
            let (c, data) = (c.clone(), data.clone());
            async move { send_in_chunks(&mut &*c, &data, 11).await }
        });
        let got = timeout(HANG, receive_all(&mut &*c)).await.unwrap().unwrap();
        assert_same(&got, &data);
        timeout(HANG, writer).await.unwrap().unwrap();
        assert_eq!(timeout(HANG, server).await.unwrap().unwrap(), MIB as u64);

        // After `shutdown` the write direction is closed for good.
        let e = AsyncWriteExt::write(&mut &*c, b"late").await.unwrap_err();
        assert_ne!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
    });
}

#[test]
fn tokio_copy_echoes_over_split_halves() {
    test(|| async {
        let (c, mut s) = pair().await;
        // Borrowed halves on the server.
        let server = spawn(async move {
            let (mut r, mut w) = s.split();
            let n = tokio::io::copy(&mut r, &mut w).await?;
            w.shutdown().await?;
            io::Result::Ok(n)
        });
        // Owned halves on the client, in two tasks.
        let (mut r, mut w) = c.into_split();
        let data = Rc::new(pattern(MIB));
        let writer = spawn({
            let data = data.clone();
            async move {
                send_in_chunks(&mut w, &data, 13).await?;
                io::Result::Ok(w)
            }
        });
        let got = timeout(HANG, receive_all(&mut r)).await.unwrap().unwrap();
        assert_same(&got, &data);
        let w = timeout(HANG, writer).await.unwrap().unwrap();
        assert_eq!(timeout(HANG, server).await.unwrap().unwrap(), MIB as u64);
        r.reunite(w).unwrap();
    });
}

#[test]
fn a_read_with_no_room_is_ready_at_once() {
    test(|| async {
        let (c, _s) = pair().await;
        // Nothing was sent: a read with room would wait; one without
        // reads nothing and returns.
        let n = timeout(HANG, AsyncReadExt::read(&mut &c, &mut []))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
    });
}

#[test]
fn read_exact_reports_a_short_stream() {
    test(|| async {
        let (c, s) = pair().await;
        AsyncWriteExt::write_all(&mut &s, b"abc").await.unwrap();
        AsyncWriteExt::shutdown(&mut &s).await.unwrap();
        let mut buf = [0u8; 4];
        let e = timeout(HANG, AsyncReadExt::read_exact(&mut &c, &mut buf))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    });
}

/// Every stream that has `futures_io`'s traits has tokio's as well.
#[test]
fn every_stream_has_both_families_of_traits() {
    fn both_read<T: futures_io::AsyncRead + AsyncRead>() {}
    fn both_write<T: futures_io::AsyncWrite + AsyncWrite>() {}
    use oneport::net::*;
    use oneport::process::*;
    both_read::<TcpStream>();
    both_read::<&TcpStream>();
    both_read::<ReadHalf<'_>>();
    both_read::<OwnedReadHalf>();
    both_write::<TcpStream>();
    both_write::<&TcpStream>();
    both_write::<WriteHalf<'_>>();
    both_write::<OwnedWriteHalf>();
    both_read::<ChildStdout>();
    both_read::<ChildStderr>();
    both_write::<ChildStdin>();
    both_read::<UnixStream>();
    both_read::<&UnixStream>();
    both_write::<UnixStream>();
    both_write::<&UnixStream>();
    #[cfg(windows)]
    {
        use oneport::windows::named_pipe::*;
        both_read::<NamedPipeServer>();
        both_read::<NamedPipeClient>();
        both_write::<NamedPipeServer>();
        both_write::<NamedPipeClient>();
    }
}

// ----------------------------------------------------- per platform

#[cfg(unix)]
#[test]
fn tokio_copy_echoes_over_a_unix_stream_pair() {
    use oneport::net::UnixStream;
    test(|| async {
        let (c, s) = UnixStream::pair().unwrap();
        let server = spawn(async move {
            let (mut r, mut w) = (&s, &s);
            let n = tokio::io::copy(&mut r, &mut w).await?;
            AsyncWriteExt::shutdown(&mut w).await?;
            io::Result::Ok(n)
        });
        let data = Rc::new(pattern(MIB));
        let c = Rc::new(c);
        let writer = spawn({
            let (c, data) = (c.clone(), data.clone());
            async move { send_in_chunks(&mut &*c, &data, 17).await }
        });
        let got = timeout(HANG, receive_all(&mut &*c)).await.unwrap().unwrap();
        assert_same(&got, &data);
        timeout(HANG, writer).await.unwrap().unwrap();
        assert_eq!(timeout(HANG, server).await.unwrap().unwrap(), MIB as u64);

        // The owned stream too: a write into a pair whose peer is gone.
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let mut a = a;
        assert_eq!(AsyncReadExt::read(&mut a, &mut [0u8; 8]).await.unwrap(), 0);
        assert!(AsyncWriteExt::write_all(&mut a, b"x").await.is_err());
    });
}

#[cfg(windows)]
#[test]
fn tokio_helpers_over_a_named_pipe() {
    use oneport::windows::named_pipe::{ClientOptions, ServerOptions};
    test(|| async {
        let name = format!(r"\\.\pipe\oneport-tokio-io-{}", std::process::id());
        let mut server = ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name)
            .unwrap();
        let mut client = ClientOptions::new().open(&name).unwrap();
        server.connect().await.unwrap();

        // A read with no room returns at once, starting no pipe read.
        let n = timeout(HANG, AsyncReadExt::read(&mut client, &mut []))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);

        // Client to server: a request read exactly.
        let request = pattern(64 * 1024);
        AsyncWriteExt::write_all(&mut client, &request)
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut client).await.unwrap();
        let mut got = vec![0u8; request.len()];
        timeout(HANG, AsyncReadExt::read_exact(&mut server, &mut got))
            .await
            .unwrap()
            .unwrap();
        assert_same(&got, &request);

        // Server to client: a mebibyte, then the server goes away and the
        // client reads end of stream.
        let data = Rc::new(pattern(MIB));
        let sender = spawn({
            let data = data.clone();
            async move {
                send_in_chunks(&mut server, &data, 19).await?;
                drop(server);
                io::Result::Ok(())
            }
        });
        let got = timeout(HANG, receive_all(&mut client))
            .await
            .unwrap()
            .unwrap();
        assert_same(&got, &data);
        timeout(HANG, sender).await.unwrap().unwrap();
    });
}
