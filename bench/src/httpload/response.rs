//! The load's HTTP/1.1 response parser: just enough to check one answer of
//! the http workload's servers (status 200, a `Content-Length` body of the
//! expected bytes) and to know where it ends.
//!
//! The client sends one request and waits for its answer before the next
//! (no pipelining), so a connection's buffer holds at most one response;
//! bytes past it mean the server sent something it was not asked for.
//! The parser is incremental only in the simplest way: the caller appends
//! what each read returned and asks again; an answer split anywhere over
//! reads parses the same as one that came whole.

use std::io;

/// The longest response head accepted: the servers send about a hundred
/// bytes, so anything longer is broken.
pub const MAX_HEAD: usize = 8 << 10;

/// Where the head ends (the index just past its blank line), if it has.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Checks the status line and finds the body's length in `head` (without
/// its blank line).
fn parse_head(head: &[u8]) -> io::Result<usize> {
    let head = std::str::from_utf8(head).map_err(|_| bad("response head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if version != "HTTP/1.1" {
        return Err(bad(format!("not an HTTP/1.1 status line: {status:?}")));
    }
    if code != "200" {
        return Err(bad(format!("status {code:?}, expected 200 ({status:?})")));
    }
    let mut length = None;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("malformed header line {line:?}")))?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad content-length {value:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("conflicting content-length headers".into()));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad(format!(
                "transfer-encoding {value:?}: expected a content-length body"
            )));
        }
    }
    length.ok_or_else(|| bad("response without content-length".into()))
}

/// Parses the one response that `buf` starts with. `Ok(None)`: not all of
/// it is there yet (read more). `Ok(Some(n))`: the whole response is the
/// first `n` bytes, its status was 200 and its body was `body`. An error
/// for anything else: another status, a malformed or overlong head, a
/// body of other bytes or another length.
pub fn parse(buf: &[u8], body: &[u8]) -> io::Result<Option<usize>> {
    let Some(end) = head_end(buf) else {
        if buf.len() > MAX_HEAD {
            return Err(bad(format!(
                "no end of the response head in {} bytes",
                buf.len()
            )));
        }
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(bad(format!("response head of {end} bytes")));
    }
    let length = parse_head(&buf[..end - 4])?;
    if length != body.len() {
        return Err(bad(format!(
            "content-length {length}, expected {}",
            body.len()
        )));
    }
    let Some(got) = buf.get(end..end + length) else {
        return Ok(None);
    };
    if got != body {
        return Err(bad(format!(
            "body {:?}, expected {:?}",
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(body)
        )));
    }
    Ok(Some(end + length))
}

/// The error for a connection that the server closed while `buf` (what
/// had come of the answer so far) was still incomplete.
pub fn closed_early(buf: &[u8]) -> io::Error {
    let what = match head_end(buf) {
        None if buf.is_empty() => "the server closed the connection before answering".into(),
        None => format!(
            "the server closed the connection inside the response head ({} bytes)",
            buf.len()
        ),
        Some(end) => match parse_head(&buf[..end - 4]) {
            Ok(length) => format!(
                "short body: the server closed the connection after {} of {length} body bytes",
                buf.len() - end
            ),
            Err(e) => return e,
        },
    };
    io::Error::new(io::ErrorKind::UnexpectedEof, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"Hello, world!";
    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: Fri, 04 Dec 2026 19:00:00 GMT\r\n\r\nHello, world!";

    #[test]
    fn a_whole_response() {
        assert_eq!(parse(OK, BODY).unwrap(), Some(OK.len()));
    }

    #[test]
    fn split_across_reads_at_every_byte() {
        // Fed as the reads would give it: each prefix is incomplete, the
        // whole is done, whatever the split points.
        for cut in 0..OK.len() {
            assert_eq!(parse(&OK[..cut], BODY).unwrap(), None, "cut at {cut}");
        }
        let mut buf = Vec::new();
        for chunk in OK.chunks(5) {
            assert_eq!(parse(&buf, BODY).unwrap(), None);
            buf.extend_from_slice(chunk);
        }
        assert_eq!(parse(&buf, BODY).unwrap(), Some(OK.len()));
    }

    #[test]
    fn bytes_after_the_response_are_left_to_the_caller() {
        let mut two = OK.to_vec();
        two.extend_from_slice(b"HTTP/1.1");
        assert_eq!(parse(&two, BODY).unwrap(), Some(OK.len()));
    }

    #[test]
    fn header_names_in_any_case() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length:13\r\n\r\nHello, world!";
        assert_eq!(parse(r, BODY).unwrap(), Some(r.len()));
    }

    #[test]
    fn wrong_status_is_an_error() {
        let r = b"HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nHello, world!";
        let e = parse(r, BODY).unwrap_err();
        assert!(e.to_string().contains("status \"404\""), "{e}");
        // Known from the head alone, before the body is in.
        let e = parse(b"HTTP/1.1 500 Oops\r\ncontent-length: 13\r\n\r\n", BODY).unwrap_err();
        assert!(e.to_string().contains("500"), "{e}");
        assert!(parse(b"HTTP/1.0 200 OK\r\ncontent-length: 13\r\n\r\n", BODY).is_err());
    }

    #[test]
    fn short_body_is_an_error() {
        let cut = &OK[..OK.len() - 3];
        // Not complete while the connection is open...
        assert_eq!(parse(cut, BODY).unwrap(), None);
        // ...and an error once the server closed it there.
        let e = closed_early(cut);
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("after 10 of 13 body bytes"), "{e}");
        // A content-length that is not the expected body's.
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHello";
        let e = parse(r, BODY).unwrap_err();
        assert!(e.to_string().contains("content-length 5"), "{e}");
    }

    #[test]
    fn closed_before_or_inside_the_head() {
        assert!(closed_early(b"").to_string().contains("before answering"));
        assert!(closed_early(b"HTTP/1.1 200 OK\r\ncont")
            .to_string()
            .contains("inside the response head"));
    }

    #[test]
    fn other_bytes_and_malformed_heads_are_errors() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, World?";
        assert!(parse(r, BODY).unwrap_err().to_string().contains("body"));
        let no_len = b"HTTP/1.1 200 OK\r\nx: y\r\n\r\n";
        assert!(parse(no_len, BODY).is_err());
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse(chunked, BODY).is_err());
        let garbage = b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n";
        assert!(parse(garbage, BODY).is_err());
        let endless = vec![b'a'; MAX_HEAD + 1];
        assert!(parse(&endless, BODY).is_err());
    }
}
