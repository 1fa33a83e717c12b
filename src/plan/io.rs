//! The I/O path of a run: what `--io` asks for, and what was decided (by
//! `engine::io::decide`, before the plan is finished).

/// What the user asked for (`--io`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoChoice {
    /// io_uring when this box allows it, else epoll with a warning.
    #[default]
    Auto,
    /// io_uring or nothing.
    Uring,
    /// epoll, without trying io_uring.
    Epoll,
}

impl IoChoice {
    pub fn parse(s: &str) -> Result<IoChoice, String> {
        match s.trim() {
            "auto" => Ok(IoChoice::Auto),
            "uring" | "io_uring" | "io-uring" => Ok(IoChoice::Uring),
            "epoll" => Ok(IoChoice::Epoll),
            other => Err(format!("`{other}`: use auto, uring or epoll")),
        }
    }
}

/// The path taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoPath {
    #[default]
    Uring,
    Epoll,
}

impl IoPath {
    /// As the result document and `doctor` name it.
    pub fn name(self) -> &'static str {
        match self {
            IoPath::Uring => "io_uring",
            IoPath::Epoll => "epoll",
        }
    }
}

/// The path a run takes, and why io_uring was not used when `--io auto` fell back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoDecision {
    pub path: IoPath,
    pub fallback: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse() {
        assert_eq!(IoChoice::parse("auto"), Ok(IoChoice::Auto));
        assert_eq!(IoChoice::parse("uring"), Ok(IoChoice::Uring));
        assert_eq!(IoChoice::parse("epoll"), Ok(IoChoice::Epoll));
        assert!(IoChoice::parse("kqueue").unwrap_err().contains("auto, uring or epoll"));
    }
}
