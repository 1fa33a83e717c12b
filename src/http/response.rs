//! Streaming HTTP/1.x response parser: the head through httparse, then the body by its framing
//! (Content-Length, chunked, close-delimited, none for HEAD/1xx/204/304), over any split of bytes.

use super::chunked::ChunkedDecoder;
pub use super::error::ParseError;

/// Default limit on the size of a response head (status line and headers).
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;
/// How many headers a response may carry.
const MAX_HEADERS: usize = 128;

/// A complete response, as `expect` checks and `extract` rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    pub status: u16,
    /// Status line and headers, as received.
    pub head: &'a [u8],
    /// The body (de-chunked), up to the capture limit.
    pub body: &'a [u8],
    /// The body was longer than the capture limit.
    pub body_truncated: bool,
}

impl<'a> Response<'a> {
    /// Value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// All headers in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match lenient().parse_response(&mut resp, self.head) {
            Ok(httparse::Status::Complete(_)) => resp.headers.len(),
            _ => 0,
        };
        let pairs: Vec<(&'a str, &'a [u8])> = headers[..n].iter().map(|h| (h.name, h.value)).collect();
        pairs.into_iter()
    }
}

/// What `feed` concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The response is not complete yet: read more.
    NeedMore,
    /// The response is complete. Bytes after it are kept for the next response.
    Done,
}

#[derive(Debug, Clone)]
enum State {
    Head,
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Body runs until the server closes the connection.
    UntilClose,
    Done,
}

/// Outcome of processing a contiguous slice.
enum Step {
    NeedMore,
    /// The head starting at this offset is incomplete: keep the bytes from here.
    HeadPartial(usize),
    /// The response ended at this offset.
    Done(usize),
}

/// Parses one response after another on a connection. Allocation-free on the common path where
/// a response head arrives in one read; a partial head is kept in a small carry buffer.
#[derive(Debug)]
pub struct ResponseParser {
    state: State,
    /// Carry: a partial head, or bytes that arrived after the previous response.
    buf: Vec<u8>,
    max_head: usize,
    head_request: bool,
    /// Whether to keep the head and body bytes (for checks and extraction).
    capture: bool,
    /// Keep the head of a response that sets a cookie or redirects (cookie jars, redirects).
    watch: bool,
    max_body: usize,
    status: u16,
    keep_alive: bool,
    started: bool,
    body_len: u64,
    head: Vec<u8>,
    body: Vec<u8>,
    body_truncated: bool,
}

impl ResponseParser {
    pub fn new(max_head: usize) -> Self {
        ResponseParser {
            state: State::Head,
            buf: Vec::new(),
            max_head,
            head_request: false,
            capture: false,
            watch: false,
            max_body: 0,
            status: 0,
            keep_alive: true,
            started: false,
            body_len: 0,
            head: Vec::new(),
            body: Vec::new(),
            body_truncated: false,
        }
    }

    /// Keep the head and up to `max_body` bytes of each body (`None`: keep nothing).
    pub fn set_capture(&mut self, max_body: Option<usize>) {
        self.capture = max_body.is_some();
        self.max_body = max_body.unwrap_or(0);
    }

    /// Keep the head of responses that set a cookie or redirect (3xx), even when not capturing.
    pub fn set_watch(&mut self, watch: bool) {
        self.watch = watch;
    }

    /// Prepare for the response to the next request. `head_request`: the request was HEAD, so
    /// the response has no body whatever its headers say.
    pub fn start(&mut self, head_request: bool) {
        self.state = State::Head;
        self.head_request = head_request;
        self.status = 0;
        self.keep_alive = true;
        self.started = false;
        self.body_len = 0;
        self.head.clear();
        self.body.clear();
        self.body_truncated = false;
    }

    /// Bytes left over from the previous response, to be parsed before reading the socket.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Forget any carried bytes (after the connection is replaced).
    pub fn reset_connection(&mut self) {
        self.buf = Vec::new();
        self.state = State::Head;
    }

    /// Give back the memory of the kept head and body, and of the carry when it holds nothing
    /// (while the user thinks: an idle user keeps no buffers).
    pub fn shed(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        self.head = Vec::new();
        self.body = Vec::new();
    }

    /// Whether any byte of the current response has been seen.
    pub fn started(&self) -> bool {
        self.started || !self.buf.is_empty()
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the connection may carry another request after this response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// The raw head (status line and headers) when capturing.
    pub fn head_bytes(&self) -> &[u8] {
        &self.head
    }

    /// The body when capturing (up to the capture limit).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn body_truncated(&self) -> bool {
        self.body_truncated
    }

    /// Value of the first header called `name` (case-insensitive), when capturing.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.view().header(name)
    }

    /// The complete response as checks and extraction see it (capture mode).
    pub fn view(&self) -> Response<'_> {
        Response { status: self.status, head: &self.head, body: &self.body, body_truncated: self.body_truncated }
    }

    /// Feed the next bytes read from the connection. All of `data` is consumed: bytes past the
    /// end of this response are carried to the next one.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ParseError> {
        // Bytes carried from the previous read belong to this response as much as new ones do.
        if !data.is_empty() || !self.buf.is_empty() {
            self.started = true;
        }
        if self.buf.is_empty() {
            return match self.process(data)? {
                Step::NeedMore => Ok(Progress::NeedMore),
                Step::HeadPartial(off) => {
                    self.check_head_len(data.len() - off)?;
                    self.buf.extend_from_slice(&data[off..]);
                    Ok(Progress::NeedMore)
                }
                Step::Done(end) => {
                    self.buf.extend_from_slice(&data[end..]);
                    Ok(Progress::Done)
                }
            };
        }
        let mut combined = std::mem::take(&mut self.buf);
        combined.extend_from_slice(data);
        let step = self.process(&combined);
        let keep_from = match step {
            Ok(Step::NeedMore) | Err(_) => combined.len(),
            Ok(Step::HeadPartial(off)) => {
                self.check_head_len(combined.len() - off)?;
                off
            }
            Ok(Step::Done(end)) => end,
        };
        combined.drain(..keep_from);
        if combined.is_empty() && combined.capacity() > 16 * 1024 {
            combined = Vec::new();
        }
        self.buf = combined;
        match step? {
            Step::Done(_) => Ok(Progress::Done),
            _ => Ok(Progress::NeedMore),
        }
    }

    /// The server closed the connection. Completes a close-delimited body; any other
    /// unfinished response is truncated (`false`).
    pub fn finish_at_eof(&mut self) -> bool {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                true
            }
            _ => false,
        }
    }

    fn check_head_len(&self, len: usize) -> Result<(), ParseError> {
        if len > self.max_head { Err(ParseError::HeadTooLarge(self.max_head)) } else { Ok(()) }
    }

    fn process(&mut self, data: &[u8]) -> Result<Step, ParseError> {
        let mut pos = 0;
        loop {
            match &mut self.state {
                State::Head => match self.parse_head(&data[pos..])? {
                    None => return Ok(Step::HeadPartial(pos)),
                    Some(n) => pos += n,
                },
                State::Length(left) => {
                    let take = (*left).min((data.len() - pos) as u64) as usize;
                    *left -= take as u64;
                    let done = *left == 0;
                    self.take_body(&data[pos..pos + take]);
                    pos += take;
                    if !done {
                        return Ok(Step::NeedMore);
                    }
                    self.state = State::Done;
                }
                State::Chunked(dec) => {
                    let (capture, max_body) = (self.capture, self.max_body);
                    let (body, truncated, body_len) = (&mut self.body, &mut self.body_truncated, &mut self.body_len);
                    let (used, done) = dec.decode(&data[pos..], |b| {
                        *body_len += b.len() as u64;
                        if capture {
                            keep(body, truncated, max_body, b);
                        }
                    })?;
                    pos += used;
                    if !done {
                        return Ok(Step::NeedMore);
                    }
                    self.state = State::Done;
                }
                State::UntilClose => {
                    self.take_body(&data[pos..]);
                    return Ok(Step::NeedMore);
                }
                State::Done => return Ok(Step::Done(pos)),
            }
        }
    }

    fn take_body(&mut self, b: &[u8]) {
        self.body_len += b.len() as u64;
        if self.capture {
            keep(&mut self.body, &mut self.body_truncated, self.max_body, b);
        }
    }

    /// Parse a head at the start of `bytes`. `None`: incomplete. On success the state moves to
    /// the body framing, to `Done`, or stays at `Head` after an interim 1xx response.
    fn parse_head(&mut self, bytes: &[u8]) -> Result<Option<usize>, ParseError> {
        // Uninitialized: zeroing 128 headers would cost a quarter of a small response's parse.
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        let n = match lenient().parse_response_with_uninit_headers(&mut resp, bytes, &mut headers) {
            Ok(httparse::Status::Partial) => {
                self.check_head_len(bytes.len())?;
                return Ok(None);
            }
            Ok(httparse::Status::Complete(n)) => n,
            Err(e) => return Err(ParseError::Head(describe(e))),
        };
        self.check_head_len(n)?;
        let status = resp.code.unwrap_or(0);
        if !(100..=999).contains(&status) {
            return Err(ParseError::Head("status code below 100"));
        }
        if (100..200).contains(&status) {
            if status == 101 {
                return Err(ParseError::Upgrade(status));
            }
            return Ok(Some(n)); // interim response: the final one follows
        }
        self.status = status;
        let http10 = resp.version == Some(0);
        let mut length: Option<u64> = None;
        let mut transfer_encoding = false;
        let mut chunked = false;
        let mut conn_close = false;
        let mut conn_keep_alive = false;
        let mut keep_head = self.capture || (self.watch && (300..400).contains(&status));
        for h in resp.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                for part in h.value.split(|&c| c == b',') {
                    let v = parse_length(part)?;
                    match length {
                        Some(prev) if prev != v => return Err(ParseError::ConflictingContentLength),
                        _ => length = Some(v),
                    }
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                transfer_encoding = true;
                // Chunked only counts when it is the last coding applied.
                chunked = h
                    .value
                    .rsplit(|&c| c == b',')
                    .next()
                    .is_some_and(|last| trim(last).eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in h.value.split(|&c| c == b',') {
                    let token = trim(token);
                    conn_close |= token.eq_ignore_ascii_case(b"close");
                    conn_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if self.watch && !keep_head && name.eq_ignore_ascii_case(b"set-cookie") {
                keep_head = true;
            }
        }
        self.keep_alive = if http10 { conn_keep_alive && !conn_close } else { !conn_close };
        if keep_head {
            self.head.clear();
            self.head.extend_from_slice(&bytes[..n]);
        }
        self.state = if self.head_request || status == 204 || status == 304 {
            State::Done
        } else if chunked {
            State::Chunked(ChunkedDecoder::default())
        } else if transfer_encoding {
            self.keep_alive = false;
            State::UntilClose
        } else {
            match length {
                Some(0) => State::Done,
                Some(len) => State::Length(len),
                None => {
                    self.keep_alive = false;
                    State::UntilClose
                }
            }
        };
        Ok(Some(n))
    }
}

fn keep(body: &mut Vec<u8>, truncated: &mut bool, max: usize, b: &[u8]) {
    let room = max.saturating_sub(body.len());
    if b.len() > room {
        *truncated = true;
    }
    body.extend_from_slice(&b[..b.len().min(room)]);
}

fn lenient() -> httparse::ParserConfig {
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true);
    cfg
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

fn parse_length(v: &[u8]) -> Result<u64, ParseError> {
    let v = trim(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadContentLength);
    }
    Ok(v.iter().fold(0u64, |acc, d| acc * 10 + (d - b'0') as u64))
}

fn describe(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "not an HTTP/1.x status line",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` in pieces of `split` bytes; return status, body and keep-alive.
    fn parse_split(input: &[u8], split: usize, head_req: bool) -> Result<(u16, Vec<u8>, bool), ParseError> {
        let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
        p.set_capture(Some(1 << 20));
        p.start(head_req);
        for part in input.chunks(split.max(1)) {
            if p.feed(part)? == Progress::Done {
                return Ok((p.status(), p.body().to_vec(), p.keep_alive()));
            }
        }
        if p.finish_at_eof() {
            return Ok((p.status(), p.body().to_vec(), p.keep_alive()));
        }
        Err(ParseError::Head("incomplete"))
    }

    fn all_splits(input: &[u8], head_req: bool) -> (u16, Vec<u8>, bool) {
        let whole = parse_split(input, input.len(), head_req).unwrap();
        for split in 1..input.len() {
            assert_eq!(parse_split(input, split, head_req).unwrap(), whole, "split {split}");
        }
        whole
    }

    #[test]
    fn content_length() {
        let r = all_splits(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false);
        assert_eq!(r, (200, b"hello".to_vec(), true));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = all_splits(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
            false,
        );
        assert_eq!(r, (200, b"abcde".to_vec(), true));
    }

    #[test]
    fn close_delimited_body() {
        let r = all_splits(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", false);
        assert_eq!(r, (200, b"until the end".to_vec(), false));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let r = all_splits(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            false,
        );
        assert_eq!(r, (201, b"ok".to_vec(), true));
    }

    #[test]
    fn no_body_for_head_204_304() {
        assert_eq!(all_splits(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true).1, b"");
        assert_eq!(all_splits(b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", false).0, 204);
        assert_eq!(all_splits(b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false).0, 304);
    }

    #[test]
    fn connection_headers_decide_keep_alive() {
        assert!(!all_splits(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false).2);
        assert!(!all_splits(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).2);
        assert!(all_splits(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false).2);
        assert!(
            all_splits(b"HTTP/1.1 200 OK\r\nconnection: upgrade, keep-alive\r\nContent-Length: 0\r\n\r\n", false).2
        );
    }

    #[test]
    fn odd_header_case_and_repeated_equal_lengths_are_fine() {
        let r = all_splits(b"HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 2\r\nContent-Length: 2, 2\r\n\r\nhi", false);
        assert_eq!(r.1, b"hi");
    }

    #[test]
    fn bad_responses_are_named() {
        let err = |s: &[u8]| parse_split(s, s.len(), false).unwrap_err();
        assert_eq!(err(b"garbage\r\n\r\n"), ParseError::Head("not an HTTP/1.x status line"));
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
            ParseError::ConflictingContentLength
        );
        assert_eq!(err(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), ParseError::BadContentLength);
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"),
            ParseError::Chunk("chunk size is not hex")
        );
        assert_eq!(err(b"HTTP/1.1 101 Switching\r\n\r\n"), ParseError::Upgrade(101));
    }

    #[test]
    fn head_limit_holds_for_split_input() {
        let mut p = ResponseParser::new(64);
        p.start(false);
        assert_eq!(p.feed(b"HTTP/1.1 200 OK\r\nX: ").unwrap(), Progress::NeedMore);
        assert_eq!(p.feed(&[b'a'; 100]).unwrap_err(), ParseError::HeadTooLarge(64));
    }

    #[test]
    fn truncated_body_is_not_complete_at_eof() {
        let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
        p.start(false);
        assert_eq!(p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").unwrap(), Progress::NeedMore);
        assert!(!p.finish_at_eof());
    }

    #[test]
    fn bytes_after_a_response_start_the_next_one() {
        let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
        p.start(false);
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(p.feed(two).unwrap(), Progress::Done);
        assert_eq!(p.status(), 200);
        assert!(p.has_buffered());
        p.start(false);
        assert_eq!(p.feed(&[]).unwrap(), Progress::Done);
        assert_eq!(p.status(), 404);
        assert!(!p.has_buffered());
    }

    /// Bug found by the response_parser fuzz target: bytes of a response carried over from the
    /// read that completed the previous one (pipelined, or a truncated second response) did not
    /// count as started, so an EOF after them looked like a stale connection, not a cut response.
    #[test]
    fn carried_partial_response_counts_as_started() {
        let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
        p.start(false);
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc";
        assert_eq!(p.feed(two).unwrap(), Progress::Done);
        p.start(false);
        assert_eq!(p.feed(&[]).unwrap(), Progress::NeedMore);
        assert!(!p.has_buffered());
        assert!(p.started(), "the carried bytes were part of this response");
        assert!(!p.finish_at_eof());
        // The same with only an interim response carried.
        let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
        p.start(false);
        assert_eq!(p.feed(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n").unwrap(), Progress::Done);
        p.start(false);
        assert_eq!(p.feed(&[]).unwrap(), Progress::NeedMore);
        assert!(p.started());
    }

    #[test]
    fn headers_are_readable_when_capturing() {
        let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
        p.set_capture(Some(16));
        p.start(false);
        p.feed(b"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nContent-Length: 20\r\n\r\n01234567890123456789").unwrap();
        assert_eq!(p.header("x-cache"), Some(&b"HIT"[..]));
        assert_eq!(p.body(), b"0123456789012345");
        assert!(p.body_truncated());
        assert_eq!(p.body_len(), 20);
    }
}
