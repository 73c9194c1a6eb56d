//! A tiny child program for oneport's process tests, so the same test runs
//! on Linux and on Windows (where it is a Windows child of the Windows test).
//!
//! Modes:
//! - `exit CODE`: exit with CODE.
//! - `cat`: copy stdin to stdout until end of input, then exit 0.
//! - `spew N`: write N bytes to stdout and N bytes to stderr (in chunks,
//!   alternating), then exit 0. Byte i of either stream is `i % 251`.
//! - `sleep MS`: sleep MS milliseconds, then exit 0.
//! - `close-stdin MS`: read 16 bytes, close stdin, sleep MS ms, exit 0.
//! - `print TEXT`: write TEXT to stdout, exit 0.

use std::io::{Read, Write};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u64 {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match args.first().map(String::as_str) {
        Some("exit") => std::process::exit(num(1) as i32),
        Some("cat") => {
            let mut buf = vec![0u8; 64 * 1024];
            let (mut i, mut o) = (std::io::stdin().lock(), std::io::stdout().lock());
            loop {
                let n = i.read(&mut buf).expect("read stdin");
                if n == 0 {
                    break;
                }
                o.write_all(&buf[..n]).expect("write stdout");
                // Pass each piece on at once (stdout buffers lines).
                o.flush().expect("flush stdout");
            }
            o.flush().expect("flush stdout");
        }
        Some("spew") => {
            let n = num(1) as usize;
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let (mut o, mut e) = (std::io::stdout().lock(), std::io::stderr().lock());
            for chunk in data.chunks(32 * 1024) {
                o.write_all(chunk).expect("write stdout");
                e.write_all(chunk).expect("write stderr");
            }
            o.flush().expect("flush stdout");
            e.flush().expect("flush stderr");
        }
        Some("sleep") => std::thread::sleep(Duration::from_millis(num(1))),
        Some("close-stdin") => {
            let mut first = [0u8; 16];
            std::io::stdin().read_exact(&mut first).ok();
            close_stdin();
            std::thread::sleep(Duration::from_millis(num(1)));
        }
        Some("print") => {
            print!("{}", args.get(1).map(String::as_str).unwrap_or(""));
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: child_helper exit CODE | cat | spew N | sleep MS | close-stdin MS | print TEXT"
    );
    std::process::exit(100)
}

#[cfg(unix)]
fn close_stdin() {
    // SAFETY: closes this process's fd 0; nothing else in this program uses
    // stdin afterwards.
    unsafe { libc::close(0) };
}

#[cfg(windows)]
fn close_stdin() {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Console::{GetStdHandle, SetStdHandle, STD_INPUT_HANDLE};
    // SAFETY: closes this process's stdin handle and forgets it; nothing
    // else in this program uses stdin afterwards.
    unsafe {
        let h = GetStdHandle(STD_INPUT_HANDLE);
        SetStdHandle(STD_INPUT_HANDLE, std::ptr::null_mut());
        CloseHandle(h);
    }
}
