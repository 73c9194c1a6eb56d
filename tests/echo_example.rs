//! The echo example's server and clients, run in-process: 100 connections
//! at once, every byte checked; and its command line.
mod common;

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

use std::net::SocketAddr;

use common::within;
use echo::{parse_args, Mode};

#[test]
fn a_hundred_concurrent_clients_get_their_bytes_back_exactly() {
    let report = within(120, || {
        oneport::run(async {
            let (_, report) = echo::demo(100, 65536).await.unwrap();
            let s = oneport::lowlevel::statistics();
            assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (0, 0));
            report
        })
    });
    assert_eq!((report.connections, report.bytes_each), (100, 65536));
}

#[test]
fn a_client_against_nothing_reports_the_refusal() {
    within(60, || {
        oneport::run(async {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            drop(l);
            let e = echo::run_clients(addr, 3, 10).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        })
    });
}

#[test]
fn patterns_differ_between_clients() {
    assert_ne!(echo::pattern(0, 64), echo::pattern(1, 64));
    assert_eq!(echo::pattern(7, 64), echo::pattern(7, 64));
}

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn the_command_line_is_parsed_and_bad_input_is_explained() {
    let addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    assert_eq!(
        parse_args(&args("server 127.0.0.1:7000")),
        Ok(Mode::Server(addr))
    );
    assert_eq!(
        parse_args(&args("client 127.0.0.1:7000 --connections 5 --bytes 9")),
        Ok(Mode::Client(addr, 5, 9))
    );
    assert_eq!(parse_args(&args("demo")), Ok(Mode::Demo(100, 65536)));
    for (bad, says) in [
        ("", "missing mode"),
        ("serve 1.2.3.4:5", "unknown mode"),
        ("server", "missing ADDR"),
        ("client localhost:7000", "bad address"),
        ("demo --bytes", "missing value"),
        ("demo --bytes lots", "bad number"),
        ("demo --connections 0", "at least 1"),
        ("server 127.0.0.1:1 --bytes 3", "unexpected argument"),
    ] {
        let e = parse_args(&args(bad)).unwrap_err();
        assert!(e.contains(says), "{bad:?} gave {e:?}");
    }
}
