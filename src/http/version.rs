//! Which HTTP a run speaks: what the user asked for (`--http`, `http = "..."`) and the protocol
//! each exchange took (counted per request in `protocols`).

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Http {
    /// Over TLS, offer `h2` and `http/1.1` in ALPN and speak what the server picks; plain
    /// `http://` stays HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    H1,
    /// HTTP/2 only: over TLS the server must pick `h2`; plain `http://` speaks h2 with prior
    /// knowledge (h2c).
    H2,
}

impl Http {
    pub fn parse(s: &str) -> Result<Http, String> {
        match s.trim() {
            "auto" => Ok(Http::Auto),
            "1.1" | "1" | "http/1.1" => Ok(Http::H1),
            "2" | "h2" | "2.0" => Ok(Http::H2),
            other => Err(format!("`{other}`: use auto, 1.1 or 2")),
        }
    }

    /// The ALPN protocols offered over TLS, most preferred first.
    pub fn alpn(self) -> Vec<Vec<u8>> {
        match self {
            Http::H1 => vec![b"http/1.1".to_vec()],
            Http::Auto | Http::H2 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }
}

/// The protocol one exchange took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Proto {
    H1 = 0,
    H2 = 1,
}

impl Proto {
    pub const COUNT: usize = 2;
    pub const ALL: [Proto; Self::COUNT] = [Proto::H1, Proto::H2];

    /// As the result document names it (the ALPN identifiers).
    pub fn name(self) -> &'static str {
        match self {
            Proto::H1 => "http/1.1",
            Proto::H2 => "h2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse() {
        assert_eq!(Http::parse("auto"), Ok(Http::Auto));
        assert_eq!(Http::parse("1.1"), Ok(Http::H1));
        assert_eq!(Http::parse("2"), Ok(Http::H2));
        assert!(Http::parse("3").unwrap_err().contains("auto, 1.1 or 2"));
        assert_eq!(Http::H1.alpn(), vec![b"http/1.1".to_vec()]);
        assert_eq!(Http::Auto.alpn()[0], b"h2");
    }
}
