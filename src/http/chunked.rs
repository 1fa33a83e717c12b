//! Incremental decoder for `Transfer-Encoding: chunked` bodies: sizes, extensions, data, trailers,
//! split across any number of reads.

use super::error::ParseError;

/// Longest chunk-size line (size, extensions) or trailer section we accept.
const MAX_LINE: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Reading hex digits of the chunk size.
    Size {
        value: u64,
        digits: u8,
    },
    /// After the size: optional whitespace and `;ext=val` up to CRLF.
    Ext {
        value: u64,
    },
    /// Saw CR after the size line, want LF.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// After chunk data, want CR (or a bare LF).
    DataCr,
    /// After chunk data CR, want LF.
    DataLf,
    /// At the start of a trailer line (after the last chunk).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw CR at the start of a trailer line: the final CRLF.
    EndLf,
    Done,
}

/// State of one chunked body. `decode` may be fed any split of the bytes.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    st: St,
    /// Bytes seen in the current size line or trailer section, to bound them.
    line: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder { st: St::Size { value: 0, digits: 0 }, line: 0 }
    }
}

impl ChunkedDecoder {
    pub fn is_done(&self) -> bool {
        self.st == St::Done
    }

    /// Decode from `data`. Returns how many bytes were used (all of them unless the body ended
    /// inside `data`) and whether the body is complete. Body bytes go to `sink` when given.
    pub fn decode(&mut self, data: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(usize, bool), ParseError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.st {
                St::Data(left) => {
                    let take = (left.min((data.len() - i) as u64)) as usize;
                    sink(&data[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    self.st = if left == 0 { St::DataCr } else { St::Data(left) };
                    continue;
                }
                St::Size { value, digits } => {
                    self.bump_line()?;
                    match hex(b) {
                        Some(d) => {
                            if digits >= 16 {
                                return Err(ParseError::Chunk("chunk size too large"));
                            }
                            self.st = St::Size { value: value << 4 | d as u64, digits: digits + 1 };
                        }
                        None if digits == 0 => return Err(ParseError::Chunk("chunk size is not hex")),
                        None => match b {
                            b';' | b' ' | b'\t' => self.st = St::Ext { value },
                            b'\r' => self.st = St::SizeLf { value },
                            b'\n' => self.end_size_line(value),
                            _ => return Err(ParseError::Chunk("chunk size is not hex")),
                        },
                    }
                }
                St::Ext { value } => {
                    self.bump_line()?;
                    match b {
                        b'\r' => self.st = St::SizeLf { value },
                        b'\n' => self.end_size_line(value),
                        _ => {}
                    }
                }
                St::SizeLf { value } => {
                    if b != b'\n' {
                        return Err(ParseError::Chunk("missing LF after chunk size"));
                    }
                    self.end_size_line(value);
                }
                St::DataCr => match b {
                    b'\r' => self.st = St::DataLf,
                    b'\n' => self.st = St::Size { value: 0, digits: 0 },
                    _ => return Err(ParseError::Chunk("chunk data longer than its size")),
                },
                St::DataLf => {
                    if b != b'\n' {
                        return Err(ParseError::Chunk("missing LF after chunk data"));
                    }
                    self.st = St::Size { value: 0, digits: 0 };
                }
                St::TrailerStart => {
                    self.bump_line()?;
                    match b {
                        b'\r' => self.st = St::EndLf,
                        b'\n' => self.st = St::Done,
                        _ => self.st = St::TrailerLine,
                    }
                }
                St::TrailerLine => {
                    self.bump_line()?;
                    if b == b'\n' {
                        self.st = St::TrailerStart;
                    }
                }
                St::EndLf => {
                    if b != b'\n' {
                        return Err(ParseError::Chunk("missing LF after trailers"));
                    }
                    self.st = St::Done;
                }
                St::Done => return Ok((i, true)),
            }
            i += 1;
            if self.st == St::Done {
                return Ok((i, true));
            }
        }
        Ok((i, self.st == St::Done))
    }

    fn end_size_line(&mut self, value: u64) {
        self.line = 0;
        self.st = if value == 0 { St::TrailerStart } else { St::Data(value) };
    }

    fn bump_line(&mut self) -> Result<(), ParseError> {
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(ParseError::Chunk("chunk size line or trailers too long"));
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], split: usize) -> Result<(Vec<u8>, usize), ParseError> {
        let mut d = ChunkedDecoder::default();
        let mut body = Vec::new();
        let mut used_total = 0;
        for part in input.chunks(split.max(1)) {
            let (used, done) = d.decode(part, |b| body.extend_from_slice(b))?;
            used_total += used;
            if done {
                return Ok((body, used_total));
            }
        }
        Err(ParseError::Chunk("incomplete"))
    }

    #[test]
    fn every_split_gives_the_same_body() {
        let input =
            b"4;name=val\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n";
        for split in 1..input.len() {
            let (body, used) = decode_all(input, split).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(used, input.len(), "split {split}");
        }
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let mut d = ChunkedDecoder::default();
        let (used, done) = d.decode(b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1", |_| {}).unwrap();
        assert!(done);
        assert_eq!(used, 13);
    }

    #[test]
    fn bare_lf_is_tolerated() {
        let (body, _) = decode_all(b"3\nabc\n0\n\n", 100).unwrap();
        assert_eq!(body, b"abc");
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert_eq!(decode_all(b"zz\r\n", 100).unwrap_err(), ParseError::Chunk("chunk size is not hex"));
        assert_eq!(decode_all(b"\r\n", 100).unwrap_err(), ParseError::Chunk("chunk size is not hex"));
        assert_eq!(decode_all(b"11111111111111111\r\n", 100).unwrap_err(), ParseError::Chunk("chunk size too large"));
        assert_eq!(decode_all(b"2\r\nabc\r\n", 100).unwrap_err(), ParseError::Chunk("chunk data longer than its size"));
    }

    #[test]
    fn endless_extension_is_bounded() {
        let mut input = b"1;".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        assert_eq!(decode_all(&input, 1000).unwrap_err(), ParseError::Chunk("chunk size line or trailers too long"));
    }
}
