//! The target's HTTP/1.1 side: requests read back to back from one connection (pipelining
//! allowed), each answered by [`route::respond`] and written as HTTP/1.1; a connection that opens
//! with the HTTP/2 preface is handed to [`h2::serve`] instead.

use std::rc::Rc;
use std::sync::Arc;

use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;

use super::route::{self, Answer};
use super::{MAX_BODY, MAX_HEAD, Shared, h2};
use crate::http::h2::frame::PREFACE;

/// Does a comma-separated header value hold `token` (case-insensitive)?
fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Send `buf` whole; `Err` when the peer is gone. Gives the buffer back, emptied.
async fn send(s: &mut &TcpStream, buf: Vec<u8>) -> Result<Vec<u8>, ()> {
    let BufResult(res, mut back) = s.write_all(buf).await;
    back.clear();
    res.map(|_| back).map_err(|_| ())
}

/// Read until the first bytes say which protocol the client speaks: `Ok(true)` for the h2
/// preface (h2c with prior knowledge), `Ok(false)` for anything else; `Err` when it closed.
async fn opens_h2(s: &mut &TcpStream, input: &mut Vec<u8>) -> Result<bool, ()> {
    loop {
        let BufResult(res, back) = s.append(std::mem::take(input)).await;
        *input = back;
        match res {
            Ok(0) | Err(_) => return Err(()),
            Ok(_) if input.len() < PREFACE.len() && PREFACE.starts_with(input) => {}
            Ok(_) => return Ok(input.starts_with(PREFACE)),
        }
    }
}

/// Serve one connection: requests back to back (pipelining allowed) until it closes.
/// Bad input gets an answer (400, 411, 413), never a panic.
pub(super) async fn serve(stream: TcpStream, sh: Arc<Shared>, shard: usize, live: Rc<h2::Live>) {
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut s = &stream;
    match opens_h2(&mut s, &mut input).await {
        Err(()) => return,
        Ok(true) => return h2::serve(stream, input, sh, shard, live).await,
        Ok(false) => {}
    }
    loop {
        // Answer every complete request already buffered.
        let mut pos = 0;
        let mut close = false;
        let mut want = 0;
        while !close {
            let buf = &input[pos..];
            // Headers left uninitialized: zeroing 64 of them per request costs more than parsing.
            let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 64];
            let mut req = httparse::Request::new(&mut []);
            let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => break,
                Ok(httparse::Status::Partial) => {
                    refuse(&mut out, 431, b"request head too large\n");
                    close = true;
                    break;
                }
                Err(_) => {
                    refuse(&mut out, 400, b"malformed request head\n");
                    close = true;
                    break;
                }
            };
            let Framing { body_len, authorization, close: conn_close } = match framing(&req) {
                Ok(f) => f,
                Err((code, why)) => {
                    refuse(&mut out, code, why);
                    close = true;
                    break;
                }
            };
            if buf.len() < head_len + body_len {
                want = head_len + body_len - buf.len();
                break;
            }
            let method = req.method.unwrap_or("GET");
            let r = route::Req {
                method,
                path: req.path.unwrap_or("/"),
                body: &buf[head_len..head_len + body_len],
                authorization,
                close: conn_close,
            };
            let start = out.len();
            let answer = route::respond(&r, &sh, shard);
            write(&answer, method == "HEAD", &mut out);
            close = answer.close;
            pos += head_len + body_len;
            if let Some(d) = answer.delay {
                // Send the answers before this one, then hold this one.
                if start > 0 {
                    let held = out.split_off(start);
                    match send(&mut s, out).await {
                        Ok(back) => out = back,
                        Err(()) => return,
                    }
                    out.extend_from_slice(&held);
                }
                compio::time::sleep(d).await;
            }
        }
        input.drain(..pos);
        if !out.is_empty() {
            match send(&mut s, std::mem::take(&mut out)).await {
                Ok(back) => out = back,
                Err(()) => return,
            }
        }
        if close {
            let _ = compio::io::AsyncWrite::shutdown(&mut s).await;
            return;
        }
        input.reserve(want.clamp(4096, 1 << 20));
        let BufResult(res, back) = s.append(std::mem::take(&mut input)).await;
        input = back;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// What a request's headers say about it.
struct Framing<'b> {
    body_len: usize,
    authorization: Option<&'b [u8]>,
    /// The client closes after this request.
    close: bool,
}

/// A request's [`Framing`]. `Err`: the status and reason of a request that cannot be served.
fn framing<'b>(req: &httparse::Request<'_, 'b>) -> Result<Framing<'b>, (u16, &'static [u8])> {
    let mut body_len = Some(0usize);
    let mut chunked = false;
    let mut authorization = None;
    let mut conn_close = req.version == Some(0);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = !h.value.trim_ascii().eq_ignore_ascii_case(b"identity");
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("connection") {
            conn_close = has_token(h.value, "close") || (req.version == Some(0) && !has_token(h.value, "keep-alive"));
        }
    }
    match body_len {
        _ if chunked => Err((411, b"chunked request bodies are not supported; send Content-Length\n")),
        None => Err((400, b"bad Content-Length\n")),
        Some(n) if n > MAX_BODY => Err((413, b"body larger than 16 MiB\n")),
        Some(n) => Ok(Framing { body_len: n, authorization, close: conn_close }),
    }
}

/// Append the answer to a request that cannot be served; the connection closes after it.
fn refuse(out: &mut Vec<u8>, code: u16, why: &'static [u8]) {
    let answer = Answer { close: true, ..Answer::text(code, why) };
    write(&answer, false, out);
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Append `a` as an HTTP/1.1 response; only its head when `head_only` (an answer to HEAD).
fn write(a: &Answer, head_only: bool, out: &mut Vec<u8>) {
    use std::io::Write;
    let (code, len) = (a.status, a.body.len());
    let _ = write!(out, "HTTP/1.1 {code} {}\r\nContent-Type: {}\r\n", reason(code), a.content_type);
    if a.chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    } else {
        let _ = write!(out, "Content-Length: {len}\r\n");
    }
    if let Some((name, value)) = a.extra {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if a.close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if head_only || code == 204 || code == 304 {
        return;
    }
    if !a.chunked {
        return a.body.put(0..len, out);
    }
    let mut at = 0;
    while at < len {
        let c = (len - at).min(1000);
        let _ = write!(out, "{c:x}\r\n");
        a.body.put(at..at + c, out);
        out.extend_from_slice(b"\r\n");
        at += c;
    }
    out.extend_from_slice(b"0\r\n\r\n");
}
