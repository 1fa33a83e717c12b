//! HPACK decoding of the server's header blocks (RFC 7541) by the `httlib-hpack` crate (its
//! dynamic table follows the server's), each block first walked here: bounds checked (the crate
//! indexes its input without checking) and its Huffman-coded strings replaced by their text from
//! a small cache of recent ones. Servers send the same values in every response (nginx: `server`,
//! `content-type`, and `date` within its second), and decoding their Huffman codes again was two
//! thirds of the client's work per response (`benches/hpack.rs` measures both).

use httlib_huffman::DecoderSpeed;

use super::request::integer as put_integer;

/// Huffman-coded strings remembered, and the longest one remembered.
const CACHED: usize = 16;
const CACHED_LEN: usize = 128;

/// A decoded header field: name, value, and the crate's flags.
pub(crate) type Field = (Vec<u8>, Vec<u8>, u8);

/// The HPACK decoder and its reused buffers.
#[derive(Default)]
pub(crate) struct Hpack {
    decoder: httlib_hpack::Decoder<'static>,
    /// The block being decoded, its strings plain.
    block: Vec<u8>,
    fields: Vec<Field>,
    strings: Strings,
}

impl Hpack {
    /// The (name, value, flags) fields of `block`, refused when it runs past its end (the target's
    /// h2c side reads requests' header blocks with it).
    pub(crate) fn fields(&mut self, block: &[u8]) -> Result<&[Field], String> {
        self.block.clear();
        plain(block, &mut self.strings, &mut self.block)?;
        self.fields.clear();
        self.decoder.decode(&mut self.block, &mut self.fields).map_err(|e| format!("a bad HPACK header block: {e}"))?;
        Ok(&self.fields)
    }
}

/// What decoding a header block found besides the head text.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub status: Option<u16>,
    pub set_cookie: bool,
    pub too_large: bool,
}

/// Recently decoded Huffman strings: (code, text), replaced in turn.
#[derive(Default)]
struct Strings {
    seen: Vec<(Vec<u8>, Vec<u8>)>,
    next: usize,
}

impl Strings {
    /// Append the text of Huffman `code` to `out` as a plain string literal.
    fn plain(&mut self, code: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if let Some((_, text)) = self.seen.iter().find(|(c, _)| c == code) {
            put_integer(out, text.len(), 7, 0x00);
            out.extend_from_slice(text);
            return Ok(());
        }
        let mut text = Vec::with_capacity(code.len() * 8 / 5 + 1);
        httlib_huffman::decode(code, &mut text, DecoderSpeed::FiveBits)
            .map_err(|e| format!("a bad HPACK header block: {}", httlib_hpack::DecoderError::from(e)))?;
        put_integer(out, text.len(), 7, 0x00);
        out.extend_from_slice(&text);
        if code.len() <= CACHED_LEN {
            let entry = (code.to_vec(), text);
            if self.seen.len() < CACHED {
                self.seen.push(entry);
            } else {
                self.seen[self.next] = entry;
                self.next = (self.next + 1) % CACHED;
            }
        }
        Ok(())
    }
}

/// Decode `block`, writing the head in HTTP/1.1 form into `head` when given (up to `max_head`
/// bytes in all).
pub(super) fn decode(
    h: &mut Hpack,
    block: &[u8],
    mut head: Option<&mut Vec<u8>>,
    max_head: usize,
    d: &mut Decoded,
) -> Result<(), String> {
    let mut size = 0usize;
    for (name, value, _) in h.fields(block)? {
        size += name.len() + value.len() + 4;
        if size > max_head {
            d.too_large = true;
            break;
        }
        if name == b":status" {
            d.status = Some(std::str::from_utf8(value).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0));
            if let Some(h) = head.as_deref_mut() {
                h.extend_from_slice(b"HTTP/1.1 ");
                h.extend_from_slice(value);
                h.extend_from_slice(b" \r\n");
            }
            continue;
        }
        if name.first() == Some(&b':') {
            continue;
        }
        d.set_cookie |= name.eq_ignore_ascii_case(b"set-cookie");
        if let Some(h) = head.as_deref_mut() {
            h.extend_from_slice(name);
            h.extend_from_slice(b": ");
            h.extend_from_slice(value);
            h.extend_from_slice(b"\r\n");
        }
    }
    if let Some(h) = head.filter(|h| !h.is_empty()) {
        h.extend_from_slice(b"\r\n");
    }
    Ok(())
}

const RUNS_PAST: &str = "a bad HPACK header block (an integer or a string runs past its end)";

/// Copy `block` into `out` with every Huffman-coded string literal replaced by its text (RFC 7541
/// §5.2), refusing a block whose integers or strings run past its end (§5, §6).
fn plain(block: &[u8], strings: &mut Strings, out: &mut Vec<u8>) -> Result<(), String> {
    let mut p = 0;
    while p < block.len() {
        let b = block[p];
        let (prefix, literal) = match b {
            _ if b & 0x80 != 0 => (7, false),
            _ if b & 0x40 != 0 => (6, true),
            _ if b & 0x20 != 0 => (5, false),
            _ => (4, true),
        };
        let (index, n) = integer(&block[p..], prefix).ok_or(RUNS_PAST)?;
        out.extend_from_slice(&block[p..p + n]);
        p += n;
        if !literal {
            continue;
        }
        for _ in 0..if index == 0 { 2 } else { 1 } {
            let (len, n) = integer(&block[p..], 7).ok_or(RUNS_PAST)?;
            if len > block.len() - p - n {
                return Err(RUNS_PAST.into());
            }
            let string = &block[p..p + n + len];
            if block[p] & 0x80 != 0 {
                strings.plain(&string[n..], out)?;
            } else {
                out.extend_from_slice(string);
            }
            p += n + len;
        }
    }
    Ok(())
}

/// An HPACK integer with a `prefix`-bit prefix at the start of `b`, and its length; `None` when
/// it runs past `b` or past the 5 bytes the decoder crate reads.
fn integer(b: &[u8], prefix: u8) -> Option<(usize, usize)> {
    let mask = (1usize << prefix) - 1;
    let mut v = (*b.first()? as usize) & mask;
    if v < mask {
        return Some((v, 1));
    }
    for i in 1..5 {
        let byte = *b.get(i)?;
        v += ((byte & 0x7f) as usize) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nginx 1.22's answer to `GET /` (see benches/hpack.rs).
    const NGINX_BLOCK: &str =
        "887689aa6355e580ae212e1f6196d07abe9403aa5f29141004e2817ae09ab80754c5a37f5f87497ca58ae819aa5c023132";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn fields(h: &mut Hpack, block: &[u8]) -> Vec<(String, String)> {
        let mut head = Vec::new();
        decode(h, block, Some(&mut head), 65_536, &mut Decoded::default()).unwrap();
        h.fields
            .iter()
            .map(|(n, v, _)| (String::from_utf8_lossy(n).into(), String::from_utf8_lossy(v).into()))
            .collect()
    }

    #[test]
    fn cached_strings_decode_as_the_crate_decodes_them() {
        let block = hex(NGINX_BLOCK);
        let mut reference = httlib_hpack::Decoder::default();
        let mut ours = Hpack::default();
        for _ in 0..40 {
            let mut b = block.clone();
            let mut want = Vec::new();
            reference.decode(&mut b, &mut want).unwrap();
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(n, v, _)| (String::from_utf8_lossy(n).into(), String::from_utf8_lossy(v).into()))
                .collect();
            assert_eq!(fields(&mut ours, &block), want);
        }
        assert_eq!(fields(&mut ours, &block)[1], ("server".into(), "nginx/1.22.1".into()));
        // Three Huffman strings, each decoded once.
        assert_eq!(ours.strings.seen.len(), 3);
    }

    #[test]
    fn more_strings_than_the_cache_holds_still_decode() {
        let mut enc = httlib_hpack::Encoder::default();
        let mut ours = Hpack::default();
        for i in 0..3 * CACHED {
            let value = format!("value number {i}");
            let mut block = Vec::new();
            let flags = httlib_hpack::Encoder::HUFFMAN_VALUE | httlib_hpack::Encoder::WITH_INDEXING;
            enc.encode((b":status".to_vec(), b"200".to_vec(), 0), &mut block).unwrap();
            enc.encode((b"x-n".to_vec(), value.clone().into_bytes(), flags), &mut block).unwrap();
            assert_eq!(fields(&mut ours, &block)[1], ("x-n".into(), value));
        }
        assert_eq!(ours.strings.seen.len(), CACHED);
    }

    #[test]
    fn a_bad_huffman_code_is_a_named_error() {
        // A literal whose Huffman-coded value is the EOS symbol, which no string may contain.
        let block = [0x88, 0x00, 0x01, b'n', 0x84, 0xff, 0xff, 0xff, 0xff];
        let err = decode(&mut Hpack::default(), &block, None, 65_536, &mut Decoded::default()).unwrap_err();
        assert!(err.contains("a bad HPACK header block"), "{err}");
    }

    #[test]
    fn blocks_that_run_past_their_end_are_refused() {
        for block in [&[0x7f][..], &[0x40, 0x05, b'a'], &[0x00, 0x01, b'n', 0x7f], &[0x3f], &[0x0f]] {
            let err = plain(block, &mut Strings::default(), &mut Vec::new()).unwrap_err();
            assert!(err.contains("runs past its end"), "{block:?}: {err}");
        }
        let mut out = Vec::new();
        plain(&[0x88, 0x0f, 0x0d, 0x02, b'1', b'2'], &mut Strings::default(), &mut out).unwrap();
        assert_eq!(out, [0x88, 0x0f, 0x0d, 0x02, b'1', b'2']);
    }
}
