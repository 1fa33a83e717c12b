//! HTTP/2 frames on the wire (RFC 9113 §4, §6): the 9-byte frame header, the frame types, flags,
//! settings and error codes this client uses, and the writers of each frame it sends.

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Size of a frame header.
pub const HEADER_LEN: usize = 9;
/// The smallest (and default) MAX_FRAME_SIZE; the largest a peer may ask for.
pub const MIN_MAX_FRAME: u32 = 16_384;
pub const MAX_MAX_FRAME: u32 = 16_777_215;
/// The initial flow-control window of a connection and of a stream before SETTINGS.
pub const DEFAULT_WINDOW: i64 = 65_535;
/// The largest a flow-control window may be.
pub const MAX_WINDOW: i64 = (1 << 31) - 1;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;
pub const COMPRESSION_ERROR: u32 = 0x9;

/// The name of an error code (RFC 9113 §7), for reasons users read.
pub fn error_name(code: u32) -> &'static str {
    match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => "unknown error code",
    }
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Head {
    /// Read a frame header from the first 9 bytes of `b` (which must hold them).
    #[inline]
    pub fn read(b: &[u8]) -> Head {
        Head {
            len: (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize,
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }
}

/// Append a frame header.
#[inline]
pub fn write_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let l = (len as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

/// A HEADERS frame carrying `block`, split into CONTINUATION frames of at most `max_frame`
/// bytes. Returns the bytes written.
pub fn write_headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: usize) -> usize {
    let start = out.len();
    let mut chunks = block.chunks(max_frame.max(1)).peekable();
    let first = chunks.next().unwrap_or_default();
    let mut flags = if end_stream { END_STREAM } else { 0 };
    if chunks.peek().is_none() {
        flags |= END_HEADERS;
    }
    write_head(out, first.len(), HEADERS, flags, stream);
    out.extend_from_slice(first);
    while let Some(c) = chunks.next() {
        let flags = if chunks.peek().is_none() { END_HEADERS } else { 0 };
        write_head(out, c.len(), CONTINUATION, flags, stream);
        out.extend_from_slice(c);
    }
    out.len() - start
}

/// A DATA frame.
#[inline]
pub fn write_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    write_head(out, data.len(), DATA, if end_stream { END_STREAM } else { 0 }, stream);
    out.extend_from_slice(data);
}

/// A SETTINGS frame with these (identifier, value) pairs.
pub fn write_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    write_head(out, settings.len() * 6, SETTINGS, 0, 0);
    for (id, v) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_head(out, 0, SETTINGS, ACK, 0);
}

pub fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
}

pub fn write_rst(out: &mut Vec<u8>, stream: u32, code: u32) {
    write_head(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

pub fn write_ping_ack(out: &mut Vec<u8>, payload: &[u8]) {
    write_head(out, 8, PING, ACK, 0);
    out.extend_from_slice(&payload[..8]);
}

pub fn write_goaway(out: &mut Vec<u8>, last_stream: u32, code: u32) {
    write_head(out, 8, GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// A big-endian u32 at the start of `b` (which must hold 4 bytes).
#[inline]
pub fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_into_continuations() {
        let mut out = Vec::new();
        let block = [7u8; 40];
        let n = write_headers(&mut out, 3, &block, true, 16);
        assert_eq!(n, out.len());
        let first = Head::read(&out);
        assert_eq!((first.len, first.kind, first.flags, first.stream), (16, HEADERS, END_STREAM, 3));
        let second = Head::read(&out[25..]);
        assert_eq!((second.len, second.kind, second.flags), (16, CONTINUATION, 0));
        let third = Head::read(&out[50..]);
        assert_eq!((third.len, third.kind, third.flags), (8, CONTINUATION, END_HEADERS));
        assert_eq!(out.len(), 3 * 9 + 40);
    }

    #[test]
    fn one_frame_block_ends_headers() {
        let mut out = Vec::new();
        write_headers(&mut out, 1, b"abc", false, 16_384);
        assert_eq!(Head::read(&out), Head { len: 3, kind: HEADERS, flags: END_HEADERS, stream: 1 });
    }

    #[test]
    fn the_reserved_bit_is_ignored() {
        let mut out = Vec::new();
        write_head(&mut out, 0x01_02_03, DATA, 0, 5);
        out[5] |= 0x80;
        assert_eq!(Head::read(&out), Head { len: 0x01_02_03, kind: DATA, flags: 0, stream: 5 });
        assert_eq!(error_name(REFUSED_STREAM), "REFUSED_STREAM");
    }
}
