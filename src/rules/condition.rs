//! Step conditions (`if = "status(login) == 201 && token"`): parsed once against the scenario's
//! variable and step names, then evaluated per iteration against one user's variables and the
//! last status that user got from each step, without allocating.
//!
//! Syntax (whitespace is free between tokens):
//!
//! ```text
//! status(login) == 201         the last status this user got from step `login`
//! status(login) != 201         also holds while there is no status yet
//! status(login) == 2xx         a class, 1xx..9xx (also `!=`; x or X)
//! status(login) in 200..299    an inclusive range (`200..=299` too) or a class (`in 2xx`)
//! status(login) == 0           no status from `login` yet (0 stands for none)
//! status(create escrow) == 201 a raw step name runs to the first `)`, spaces inside kept
//! status("a)b") == 201         a step name in quotes ('a)b' too), needed when it holds `)`
//! token                        variable `token` has a value, and it is not empty
//! !token                       it has none, or an empty one
//! role == "admin"              the value is exactly `admin` ('admin' too; no escapes: use the
//!                              other quote to include one)
//! role != "admin"              no value counts as unequal
//! A && B, A || B, (A), !(A)    `&&` binds tighter than `||`; `!` takes a variable, a group or `!`
//! ```
//!
//! Variable names are letters, digits, `_`, `-` and `.`; `status` followed by `(` is the status
//! function, otherwise a variable. Codes are 0 or 100..=999, never quoted. Parentheses and `!`
//! nest at most [`MAX_DEPTH`] deep. Error offsets are byte offsets into the condition's text.

use crate::rules::{ParseError, status};
use std::fmt;

/// How deep parentheses and `!` may nest.
pub const MAX_DEPTH: usize = 32;

/// The names a condition may refer to, provided by the plan that compiles it.
pub trait CondNames {
    /// Index of the variable slot called `name` (CSV column or extracted value).
    fn var(&self, name: &str) -> Option<usize>;
    /// The variable names in scope, for error messages.
    fn known_vars(&self) -> Vec<String>;
    /// The status slot of the step called `name`: where the engine keeps the last status the
    /// user got from it.
    fn step(&self, name: &str) -> Option<usize>;
    /// The step names a condition may read, for error messages.
    fn known_steps(&self) -> Vec<String>;
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// The last status from the step in status slot `slot` is in `lo..=hi`.
    Status {
        slot: usize,
        lo: u16,
        hi: u16,
    },
    /// The variable in slot `.0` has a non-empty value.
    Set(usize),
    /// The variable in slot `.0` has exactly this value.
    Equals(usize, Box<[u8]>),
    Not(Box<Node>),
    All(Vec<Node>),
    Any(Vec<Node>),
}

impl Node {
    fn eval(&self, vars: &[Option<Vec<u8>>], statuses: &[u16]) -> bool {
        let var = |slot: &usize| vars.get(*slot).and_then(Option::as_deref);
        match self {
            Node::Status { slot, lo, hi } => (*lo..=*hi).contains(&statuses.get(*slot).copied().unwrap_or(0)),
            Node::Set(slot) => var(slot).is_some_and(|v| !v.is_empty()),
            Node::Equals(slot, want) => var(slot) == Some(want),
            Node::Not(n) => !n.eval(vars, statuses),
            Node::All(ns) => ns.iter().all(|n| n.eval(vars, statuses)),
            Node::Any(ns) => ns.iter().any(|n| n.eval(vars, statuses)),
        }
    }
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    src: String,
    root: Node,
    /// Status slots read, sorted, without repeats.
    steps: Vec<usize>,
    /// Variable slots read, sorted, without repeats.
    vars: Vec<usize>,
}

impl Condition {
    /// Whether the condition holds for a user whose variable slots are `vars` and whose last
    /// status per status slot is `statuses` (0 = no status yet). A slot past the end of either
    /// slice reads as no value / status 0.
    pub fn eval(&self, vars: &[Option<Vec<u8>>], statuses: &[u16]) -> bool {
        self.root.eval(vars, statuses)
    }

    /// The status slots the condition reads, ascending, each once.
    pub fn status_steps(&self) -> impl Iterator<Item = usize> + '_ {
        self.steps.iter().copied()
    }

    /// The text the condition was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

/// Parse `src`, resolving variable and step names through `names`.
pub fn parse(src: &str, names: &dyn CondNames) -> Result<Condition, ParseError> {
    let mut p = Parser { src, pos: 0, depth: 0, names, steps: Vec::new(), vars: Vec::new() };
    p.skip_ws();
    if p.pos == src.len() {
        return Err(p.err(p.pos, "empty condition: write one such as `status(login) == 200` or `token`"));
    }
    let root = p.or()?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.trailing());
    }
    let (mut steps, mut vars) = (p.steps, p.vars);
    steps.sort_unstable();
    steps.dedup();
    vars.sort_unstable();
    vars.dedup();
    Ok(Condition { src: src.to_string(), root, steps, vars })
}

const OPERAND: &str = "expected a variable, `status(step)`, `!` or `(`";

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// `a, b` (each in backticks when `quote`), or `None` when there are no names.
fn list(names: Vec<String>, quote: bool) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let names: Vec<String> = if quote { names.into_iter().map(|n| format!("`{n}`")).collect() } else { names };
    Some(names.join(", "))
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    names: &'a dyn CondNames,
    steps: Vec<usize>,
    vars: Vec<usize>,
}

impl<'a> Parser<'a> {
    fn err(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError { offset, message: message.into() }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The next character after whitespace.
    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    /// `found `x`` or `found the end`, for messages.
    fn found(&mut self) -> String {
        match self.peek() {
            Some(c) => format!("found `{c}`"),
            None => "found the end of the condition".into(),
        }
    }

    /// Consume `token` if it comes next (after whitespace).
    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        let hit = self.rest().starts_with(token);
        if hit {
            self.pos += token.len();
        }
        hit
    }

    /// Consume the word `w` if it comes next and is not the start of a longer name.
    fn eat_word(&mut self, w: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        let hit = rest.starts_with(w) && !rest[w.len()..].chars().next().is_some_and(is_name_char);
        if hit {
            self.pos += w.len();
        }
        hit
    }

    /// A name (letters, digits, `_`, `-`, `.`) and its offset; empty when none comes next.
    fn name(&mut self) -> (&'a str, usize) {
        self.skip_ws();
        let rest = self.rest();
        let len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let at = self.pos;
        self.pos += len;
        (&rest[..len], at)
    }

    /// A quoted string (`"..."` or `'...'`, no escapes) starting at the next character.
    fn string(&mut self) -> Result<(&'a str, usize), ParseError> {
        self.skip_ws();
        let at = self.pos;
        let rest = self.rest();
        let Some(q @ ('"' | '\'')) = rest.chars().next() else {
            return Err(self.err(at, "expected a quoted string"));
        };
        let Some(len) = rest[1..].find(q) else {
            return Err(self.err(at, format!("unclosed `{q}`: the string has no closing quote")));
        };
        self.pos += len + 2;
        Ok((&rest[1..1 + len], at))
    }

    fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(at, format!("the condition nests deeper than {MAX_DEPTH} (parentheses and `!`)")));
        }
        Ok(())
    }

    /// `and ('||' and)*`
    fn or(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.and()?];
        while self.eat("||") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.swap_remove(0) } else { Node::Any(items) })
    }

    /// `unary ('&&' unary)*`
    fn and(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.unary()?];
        while self.eat("&&") {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.swap_remove(0) } else { Node::All(items) })
    }

    /// `'!' unary | '(' or ')' | atom`; `!` applies to a bare variable, a group or another `!`.
    fn unary(&mut self) -> Result<Node, ParseError> {
        let at = self.pos_after_ws();
        match self.peek() {
            Some('!') if !self.rest().starts_with("!=") => {
                self.pos += 1;
                self.enter(at)?;
                let operand_at = self.pos_after_ws();
                let bare = self.peek().is_some_and(is_name_char);
                let inner = self.unary()?;
                if bare && !matches!(inner, Node::Set(_)) {
                    let text = self.src.get(operand_at..self.pos).unwrap_or("").trim_end();
                    return Err(
                        self.err(at, format!("`!` applies to a variable or a parenthesised group: write `!({text})`"))
                    );
                }
                self.depth -= 1;
                Ok(Node::Not(Box::new(inner)))
            }
            Some('(') => {
                self.pos += 1;
                self.enter(at)?;
                let inner = self.or()?;
                match self.peek() {
                    Some(')') => self.pos += 1,
                    None => return Err(self.err(at, "unclosed `(`")),
                    Some(_) => {
                        let found = self.found();
                        return Err(self.err(self.pos, format!("expected `&&`, `||` or `)`, {found}")));
                    }
                }
                self.depth -= 1;
                Ok(inner)
            }
            Some(c) if is_name_char(c) => self.atom(),
            _ => {
                let found = self.found();
                Err(self.err(self.pos, format!("{OPERAND}, {found}")))
            }
        }
    }

    fn pos_after_ws(&mut self) -> usize {
        self.skip_ws();
        self.pos
    }

    /// `status(step) ...`, `name`, `name == "v"`, `name != "v"`.
    fn atom(&mut self) -> Result<Node, ParseError> {
        let (name, at) = self.name();
        if self.peek() == Some('(') {
            if name == "status" {
                return self.status();
            }
            return Err(self.err(at, format!("unknown function `{name}`: the only one is `status(step)`")));
        }
        let Some(slot) = self.names.var(name) else {
            let hint = if name == "status" { "; a step's status is read as `status(step)`" } else { "" };
            let known = match list(self.names.known_vars(), false) {
                Some(l) => format!("known: {l}"),
                None => "no variables are defined here".into(),
            };
            return Err(self.err(at, format!("unknown variable `{name}` ({known}){hint}")));
        };
        self.vars.push(slot);
        let negate = if self.eat("==") {
            false
        } else if self.eat("!=") {
            true
        } else {
            if self.peek() == Some('=') {
                return Err(self.err(self.pos, "use `==` to compare"));
            }
            return Ok(Node::Set(slot));
        };
        if self.peek() == Some('=') {
            return Err(self.err(self.pos, "use `==` or `!=`, not `===` or `!==`"));
        }
        if !matches!(self.peek(), Some('"' | '\'')) {
            let found = self.found();
            return Err(self.err(self.pos, format!("expected a quoted string such as \"admin\", {found}")));
        }
        let (value, _) = self.string()?;
        let eq = Node::Equals(slot, value.as_bytes().into());
        Ok(if negate { Node::Not(Box::new(eq)) } else { eq })
    }

    /// After `status`: `(step)` then `== S`, `!= S` or `in R`.
    fn status(&mut self) -> Result<Node, ParseError> {
        let open = self.pos;
        self.pos += 1; // `(`
        let (step, step_at) = if matches!(self.peek(), Some('"' | '\'')) {
            let s = self.string()?;
            if !self.eat(")") {
                let found = self.found();
                return Err(self.err(self.pos, format!("expected `)` after the step name, {found}")));
            }
            s
        } else {
            let at = self.pos;
            let Some(len) = self.rest().find(')') else {
                return Err(self.err(open, "unclosed `(` after `status`"));
            };
            self.pos += len + 1;
            (self.src[at..at + len].trim_end(), at)
        };
        if step.is_empty() {
            return Err(self.err(open, "`status()` needs a step name, as in `status(login)`"));
        }
        let Some(slot) = self.names.step(step) else {
            let known = match list(self.names.known_steps(), true) {
                Some(l) => format!("known: {l}"),
                None => "no steps can be read here".into(),
            };
            return Err(self.err(step_at, format!("unknown step `{step}` ({known})")));
        };
        self.steps.push(slot);
        let (negate, in_form) = if self.eat("==") {
            (false, false)
        } else if self.eat("!=") {
            (true, false)
        } else if self.eat_word("in") {
            (false, true)
        } else {
            let found = self.found();
            return Err(self.err(
                self.pos,
                format!("`status({step})` needs a comparison: `== 201`, `!= 201`, `== 2xx` or `in 200..299`; {found}"),
            ));
        };
        let (lo, hi) = self.status_value(in_form)?;
        let node = Node::Status { slot, lo, hi };
        Ok(if negate { Node::Not(Box::new(node)) } else { node })
    }

    /// `201`, `2xx`, and with `in` also `200..299` / `200..=299`.
    fn status_value(&mut self, in_form: bool) -> Result<(u16, u16), ParseError> {
        let forms = if in_form {
            "a range such as 200..299 or a class such as 2xx"
        } else {
            "a code such as 201 or a class such as 2xx"
        };
        self.skip_ws();
        let at = self.pos;
        if matches!(self.peek(), Some('"' | '\'')) {
            return Err(self.err(at, format!("status values are not quoted: write {forms}")));
        }
        let word = self.word();
        if word.is_empty() {
            let found = self.found();
            return Err(self.err(at, format!("expected {forms}, {found}")));
        }
        if let Some(range) = status::class(word) {
            return Ok(range);
        }
        let lo = self.code(word, at)?;
        self.skip_ws();
        if !self.rest().starts_with("..") {
            return if in_form { Err(self.err(at, format!("expected {forms}, found `{word}`"))) } else { Ok((lo, lo)) };
        }
        if !in_form {
            return Err(self.err(at, "a range is tested with `in`, as in `status(login) in 200..299`"));
        }
        self.pos += 2;
        if self.rest().starts_with('=') {
            self.pos += 1;
        }
        self.skip_ws();
        let hi_at = self.pos;
        let hi_word = self.word();
        if hi_word.is_empty() {
            let found = self.found();
            return Err(self.err(hi_at, format!("expected the end of the range, {found}")));
        }
        let hi = self.code(hi_word, hi_at)?;
        if lo > hi {
            return Err(self.err(at, format!("the range {lo}..{hi} is reversed")));
        }
        Ok((lo, hi))
    }

    /// Letters and digits at the current position.
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// A status code: 0 (no status yet) or 100..=999.
    fn code(&self, word: &str, at: usize) -> Result<u16, ParseError> {
        if !word.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(at, format!("`{word}` is not a status code or class (such as 201 or 2xx)")));
        }
        match word.parse::<u16>() {
            Ok(c) if c == 0 || status::CODES.contains(&c) => Ok(c),
            _ => Err(self.err(at, format!("status {word} is outside 100..=999 (0 means no status yet)"))),
        }
    }

    /// The error for text left after a complete condition.
    fn trailing(&mut self) -> ParseError {
        let at = self.pos;
        let rest = self.rest();
        let starts = |w: &str| {
            rest.get(..w.len()).is_some_and(|h| h.eq_ignore_ascii_case(w))
                && !rest[w.len()..].chars().next().is_some_and(is_name_char)
        };
        let message = if rest.starts_with(')') {
            "`)` without a matching `(`".to_string()
        } else if starts("and") || starts("or") || starts("not") {
            "use `&&`, `||` and `!` to combine conditions".to_string()
        } else if rest.starts_with('&') {
            "use `&&`, not `&`".to_string()
        } else if rest.starts_with('|') {
            "use `||`, not `|`".to_string()
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            format!("unexpected `{c}` after a complete condition; join conditions with `&&` or `||`")
        };
        self.err(at, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables `token` (0), `role` (1), `user.id` (2), `x` (3), `status` only when `with_status`;
    /// steps `login` (status slot 0), `create escrow` (1), `a)b` (2).
    struct N {
        with_status: bool,
    }

    const VARS: [&str; 4] = ["token", "role", "user.id", "x"];
    const STEPS: [&str; 3] = ["login", "create escrow", "a)b"];

    impl CondNames for N {
        fn var(&self, name: &str) -> Option<usize> {
            VARS.iter().position(|v| *v == name).or((self.with_status && name == "status").then_some(4))
        }
        fn known_vars(&self) -> Vec<String> {
            VARS.iter().map(|v| v.to_string()).collect()
        }
        fn step(&self, name: &str) -> Option<usize> {
            STEPS.iter().position(|s| *s == name)
        }
        fn known_steps(&self) -> Vec<String> {
            STEPS.iter().map(|v| v.to_string()).collect()
        }
    }

    struct Empty;

    impl CondNames for Empty {
        fn var(&self, _: &str) -> Option<usize> {
            None
        }
        fn known_vars(&self) -> Vec<String> {
            vec![]
        }
        fn step(&self, _: &str) -> Option<usize> {
            None
        }
        fn known_steps(&self) -> Vec<String> {
            vec![]
        }
    }

    fn cond(src: &str) -> Condition {
        parse(src, &N { with_status: false }).unwrap_or_else(|e| panic!("{src}: {e} at {}", e.offset))
    }

    fn err(src: &str) -> (usize, String) {
        let e = parse(src, &N { with_status: false }).unwrap_err();
        (e.offset, e.message)
    }

    /// A user with `token` = `token`, `role` = `role`, others unset, and these statuses.
    fn user(token: Option<&str>, role: Option<&str>) -> Vec<Option<Vec<u8>>> {
        vec![token.map(|t| t.as_bytes().to_vec()), role.map(|r| r.as_bytes().to_vec()), None, None]
    }

    fn holds(src: &str, vars: &[Option<Vec<u8>>], statuses: &[u16]) -> bool {
        cond(src).eval(vars, statuses)
    }

    #[test]
    fn status_forms() {
        let v = user(None, None);
        let table: [(&str, [bool; 6]); 12] = [
            // statuses of `login`: 0 (none yet), 200, 201, 299, 302, 500
            ("status(login) == 201", [false, false, true, false, false, false]),
            ("status(login) != 201", [true, true, false, true, true, true]),
            ("status(login) == 2xx", [false, true, true, true, false, false]),
            ("status(login) == 2XX", [false, true, true, true, false, false]),
            ("status(login) != 2xx", [true, false, false, false, true, true]),
            ("status(login) in 200..299", [false, true, true, true, false, false]),
            ("status(login) in 201..=302", [false, false, true, true, true, false]),
            ("status(login) in 200 .. 201", [false, true, true, false, false, false]),
            ("status(login) in 3xx", [false, false, false, false, true, false]),
            ("status(login) == 0", [true, false, false, false, false, false]),
            ("status(login) in 0..199", [true, false, false, false, false, false]),
            ("  status ( login )==201  ", [false, false, true, false, false, false]),
        ];
        for (src, want) in table {
            for (status, want) in [0, 200, 201, 299, 302, 500].into_iter().zip(want) {
                assert_eq!(holds(src, &v, &[status, 0, 0]), want, "{src} with status {status}");
            }
        }
    }

    #[test]
    fn step_names() {
        let v = user(None, None);
        assert!(holds("status(create escrow) == 201", &v, &[0, 201, 0]));
        assert!(holds("status( create escrow ) == 201", &v, &[0, 201, 0]));
        assert!(holds("status(\"create escrow\") == 201", &v, &[0, 201, 0]));
        assert!(holds("status('create escrow') == 201", &v, &[0, 201, 0]));
        assert!(holds("status(\"a)b\") == 404", &v, &[0, 0, 404]));
        assert!(!holds("status(login) == 201", &v, &[0, 201, 0]), "each step has its own slot");
        assert_eq!(
            cond("status(create escrow) == 201 || status(login) == 1xx || status(login) != 2xx")
                .status_steps()
                .collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(cond("token && role == 'a'").status_steps().count(), 0);
        assert_eq!(cond("token && role == 'a' || !token").vars, [0, 1]);
    }

    #[test]
    fn variable_forms() {
        let none = user(None, None);
        let empty = user(Some(""), Some(""));
        let admin = user(Some("t0k"), Some("admin"));
        let spaced = user(Some("t0k"), Some("super admin"));
        let cases: [(&str, [bool; 4]); 10] = [
            // users: none, empty values, role admin, role "super admin"
            ("token", [false, false, true, true]),
            ("!token", [true, true, false, false]),
            ("!!token", [false, false, true, true]),
            ("role == \"admin\"", [false, false, true, false]),
            ("role == 'admin'", [false, false, true, false]),
            ("role != \"admin\"", [true, true, false, true]),
            ("role == \"\"", [false, true, false, false]),
            ("role == \"super admin\"", [false, false, false, true]),
            ("role == 'super admin' || role == \"admin\"", [false, false, true, true]),
            ("role==\"Admin\"", [false, false, false, false]),
        ];
        for (src, want) in cases {
            for (i, vars) in [&none, &empty, &admin, &spaced].into_iter().enumerate() {
                assert_eq!(holds(src, vars, &[]), want[i], "{src} for user {i}");
            }
        }
        let q1 = user(None, Some("it's"));
        assert!(holds(r#"role == "it's""#, &q1, &[]));
        let q2 = user(None, Some("say \"hi\""));
        assert!(holds(r#"role == 'say "hi"'"#, &q2, &[]));
        let dotted = vec![None, None, Some(b"42".to_vec()), None];
        assert!(holds("user.id == \"42\"", &dotted, &[]));
        assert!(holds("user.id", &dotted, &[]));
        let status_var = vec![None, None, None, None, Some(b"ok".to_vec())];
        let n = N { with_status: true };
        assert!(parse("status == \"ok\"", &n).unwrap().eval(&status_var, &[]), "`status` alone is a variable");
        assert!(parse("status", &n).unwrap().eval(&status_var, &[]));
    }

    #[test]
    fn precedence_and_grouping() {
        // a = token set, b = role admin, c = login 201
        let truth = |src: &str, f: fn(bool, bool, bool) -> bool| {
            for bits in 0..8u8 {
                let (a, b, c) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                let vars = user(a.then_some("t"), b.then_some("admin"));
                let statuses = [if c { 201 } else { 500 }];
                assert_eq!(holds(src, &vars, &statuses), f(a, b, c), "{src} with a={a} b={b} c={c}");
            }
        };
        truth("token || role == 'admin' && status(login) == 201", |a, b, c| a || (b && c));
        truth("token && role == 'admin' || status(login) == 201", |a, b, c| (a && b) || c);
        truth("(token || role == 'admin') && status(login) == 201", |a, b, c| (a || b) && c);
        truth("token && (role == 'admin' || status(login) == 201)", |a, b, c| a && (b || c));
        truth("!(token && role == 'admin') || status(login) == 201", |a, b, c| !(a && b) || c);
        truth("!(token || role == 'admin' || status(login) == 201)", |a, b, c| !(a || b || c));
        truth("!token && !(role != 'admin') && status(login) != 201", |a, b, c| !a && b && !c);
        truth("((token)) && (((role == 'admin')))", |a, b, _| a && b);
        truth("token&&role=='admin'||status(login)==201", |a, b, c| (a && b) || c);
        truth("token && token && token || token", |a, _, _| a);
        truth("!!(token)", |a, _, _| a);
    }

    #[test]
    fn long_flat_chains_are_fine() {
        let src = vec!["token"; 10_000].join(" && ");
        assert!(holds(&src, &user(Some("t"), None), &[]));
        assert!(!holds(&src, &user(None, None), &[]));
        let src = vec!["status(login) == 201"; 10_000].join(" || ");
        assert!(holds(&src, &user(None, None), &[201]));
        assert_eq!(cond(&src).status_steps().collect::<Vec<_>>(), [0], "slots are listed once");
    }

    #[test]
    fn nesting_is_capped() {
        let nested = |n: usize| format!("{}token{}", "(".repeat(n), ")".repeat(n));
        assert!(holds(&nested(MAX_DEPTH), &user(Some("t"), None), &[]));
        let (at, msg) = err(&nested(MAX_DEPTH + 1));
        assert_eq!(at, MAX_DEPTH);
        assert!(msg.contains("nests deeper than 32"), "{msg}");
        let (at, msg) = err(&nested(1_000_000));
        assert_eq!(at, MAX_DEPTH);
        assert!(msg.contains("nests deeper"), "{msg}");
        let (at, _) = err(&format!("{}token", "!".repeat(100_000)));
        assert_eq!(at, MAX_DEPTH);
        assert!(holds(&format!("{}token", "!".repeat(MAX_DEPTH)), &user(Some("t"), None), &[]), "32 is even");
        let (at, _) = err(&format!("{}token", "!(".repeat(20)));
        assert_eq!(at, 32, "`!` and `(` both count");
        let (at, msg) = err(&"(".repeat(1_000_000));
        assert_eq!((at, msg.contains("nests deeper")), (MAX_DEPTH, true));
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        assert_eq!(err("tokn"), (0, "unknown variable `tokn` (known: token, role, user.id, x)".into()));
        assert_eq!(err("token && rol == 'a'").0, 9);
        assert_eq!(
            err("status(logn) == 200"),
            (7, "unknown step `logn` (known: `login`, `create escrow`, `a)b`)".into())
        );
        assert_eq!(err("status(  'logn' ) == 200").0, 9);
        assert_eq!(err("status(a)b) == 200").0, 7, "a raw step name ends at the first `)`");
        assert_eq!(
            err("status == 200"),
            (
                0,
                "unknown variable `status` (known: token, role, user.id, x); a step's status is read as `status(step)`"
                    .into()
            )
        );
        let e = parse("x", &Empty).unwrap_err();
        assert_eq!(e.message, "unknown variable `x` (no variables are defined here)");
        let e = parse("status(login) == 200", &Empty).unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (7, "unknown step `login` (no steps can be read here)"));
        assert_eq!(err("len(token)"), (0, "unknown function `len`: the only one is `status(step)`".into()));
        assert_eq!(err("Status(login) == 200").1, "unknown function `Status`: the only one is `status(step)`");
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty condition"),
            ("   ", 3, "empty condition"),
            ("token role", 6, "unexpected `r` after a complete condition"),
            ("token)", 5, "`)` without a matching `(`"),
            ("token and role", 6, "use `&&`, `||` and `!`"),
            ("token OR role", 6, "use `&&`, `||` and `!`"),
            ("token & role", 6, "use `&&`, not `&`"),
            ("token | role", 6, "use `||`, not `|`"),
            ("token &&", 8, "expected a variable, `status(step)`, `!` or `(`, found the end of the condition"),
            ("&& token", 0, "expected a variable, `status(step)`, `!` or `(`, found `&`"),
            ("token || || role", 9, "found `|`"),
            ("()", 1, "found `)`"),
            ("(token", 0, "unclosed `(`"),
            ("((token) && role", 0, "unclosed `(`"),
            ("(token role)", 7, "expected `&&`, `||` or `)`, found `r`"),
            ("role == \"admin", 8, "unclosed `\"`"),
            ("role == 'admin", 8, "unclosed `'`"),
            ("status('login) == 200", 7, "unclosed `'`"),
            ("role = 'admin'", 5, "use `==` to compare"),
            ("role === 'admin'", 7, "not `===`"),
            ("role == admin", 8, "expected a quoted string such as \"admin\", found `a`"),
            ("role == 7", 8, "expected a quoted string"),
            ("role !=", 7, "found the end of the condition"),
            ("!role == 'admin'", 0, "`!` applies to a variable or a parenthesised group: write `!(role == 'admin')`"),
            ("!status(login) == 200", 0, "write `!(status(login) == 200)`"),
            ("!", 1, "found the end"),
            ("status(login)", 13, "`status(login)` needs a comparison"),
            ("status(login) = 200", 14, "needs a comparison"),
            ("status(login) > 200", 14, "needs a comparison"),
            ("status(login", 6, "unclosed `(` after `status`"),
            ("status()", 6, "`status()` needs a step name"),
            ("status(   ) == 1", 6, "needs a step name"),
            ("status('') == 1", 6, "needs a step name"),
            ("status('login' == 200", 15, "expected `)` after the step name"),
            ("status(login) == ", 17, "expected a code such as 201 or a class such as 2xx, found the end"),
            ("status(login) == '201'", 17, "status values are not quoted"),
            ("status(login) == 99", 17, "status 99 is outside 100..=999 (0 means no status yet)"),
            ("status(login) == 1000", 17, "status 1000 is outside"),
            ("status(login) == 99999999999", 17, "is outside"),
            ("status(login) == 0xx", 17, "`0xx` is not a status code or class"),
            ("status(login) == 2x", 17, "`2x` is not a status code"),
            ("status(login) == 200..299", 17, "a range is tested with `in`"),
            ("status(login) in 200", 17, "expected a range such as 200..299 or a class such as 2xx, found `200`"),
            ("status(login) in 299..200", 17, "the range 299..200 is reversed"),
            ("status(login) in 200..", 22, "expected the end of the range"),
            ("status(login) in 200..abc", 22, "`abc` is not a status code"),
            ("status(login) in200..299", 14, "needs a comparison"),
            ("status(login) == 201 201", 21, "unexpected `2`"),
            ("tökén", 0, "unknown variable `tökén`"),
            ("token €", 6, "unexpected `€` after a complete condition"),
            ("token && €", 9, "found `€`"),
        ];
        for &(src, at, msg) in cases {
            let (got_at, got) = match parse(src, &N { with_status: false }) {
                Ok(_) => panic!("`{src}` parsed"),
                Err(e) => (e.offset, e.message),
            };
            assert!(got.contains(msg), "`{src}`: `{got}` lacks `{msg}`");
            assert_eq!(got_at, at, "`{src}`: {got}");
            assert!(src.is_char_boundary(got_at), "`{src}`");
        }
    }

    #[test]
    fn no_input_panics() {
        // Every prefix of every test string, and a few odd ones: parse must return, never panic.
        let seeds = [
            "!(status('create escrow') in 200..=299 && role != \"a b\") || !token && (x == 'é') || status(a)b) == 5xx",
            "((((!!x)))) && status(login)==2xx",
            "é(ü)'\"!&|=. \u{a0}\t\n",
        ];
        for s in seeds {
            for (i, _) in s.char_indices().chain([(s.len(), ' ')]) {
                let _ = parse(&s[..i], &N { with_status: true });
                let _ = parse(&s[i..], &N { with_status: true });
                let _ = parse(&s[..i], &Empty);
            }
        }
        let c = cond("status(login) == 201 && role == 'a' && token");
        assert!(!c.eval(&[], &[]), "short slices read as no value / no status");
        assert!(cond("!token && status(login) == 0 && role != 'a'").eval(&[], &[]));
    }

    #[test]
    fn source_and_display() {
        let c = cond(" token && status(login) == 201 ");
        assert_eq!(c.source(), " token && status(login) == 201 ");
        assert_eq!(c.to_string(), c.source());
        assert_eq!(ParseError { offset: 3, message: "m".into() }.to_string(), "m");
    }
}
