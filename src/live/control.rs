//! The control API (`--control`): `POST /api/control` with a bearer token and a JSON body asks
//! the run for a change; `GET /api/control` tells its state. Answers are JSON: 200 with the
//! new state, 400 bad input, 401 wrong or missing token (counted), 409 the run is not going,
//! 413 a body over 64 KiB. Nothing changes unless the answer is 200.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::engine::control::{Command, Control, ControlError};

/// Largest body a control request may have.
pub const MAX_BODY: usize = 64 * 1024;

/// Steering of a run through the dashboard: the run's control and the token it takes.
#[derive(Clone)]
pub struct Steering {
    pub control: Arc<Control>,
    pub token: String,
}

/// An answer: HTTP status line and JSON body.
pub type Answer = (&'static str, String);

fn error(status: &'static str, message: impl std::fmt::Display) -> Answer {
    (status, serde_json::json!({ "error": message.to_string() }).to_string())
}

/// What a JSON body may say.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    scenario: Option<String>,
    users: Option<f64>,
    rate: Option<f64>,
    over: Option<serde_json::Value>,
    action: Option<String>,
}

/// A body as a change, or why it is not one.
pub fn parse(body: &[u8]) -> Result<Command, String> {
    let b: Body = serde_json::from_slice(body).map_err(|e| format!("the body is not a control request: {e}"))?;
    let over = match &b.over {
        None => Duration::from_secs(1),
        Some(serde_json::Value::String(s)) => crate::units::parse_duration(s).map_err(|e| format!("over: {e}"))?,
        Some(serde_json::Value::Number(n)) => {
            let s = n.as_f64().unwrap_or(-1.0);
            if !(0.0..=86_400.0).contains(&s) {
                return Err(format!("over: {s} seconds is out of range (0 to 86400)"));
            }
            Duration::from_secs_f64(s)
        }
        Some(other) => return Err(format!("over: use a duration such as \"10s\", not {other}")),
    };
    let scenario = b.scenario;
    match (b.users, b.rate, b.action.as_deref()) {
        (Some(users), None, None) => Ok(Command::Users { scenario, users, over }),
        (None, Some(rate), None) => Ok(Command::Rate { scenario, rate, over }),
        (None, None, Some(action)) => {
            if b.over.is_some() {
                return Err(format!("over does not go with \"action\": \"{action}\""));
            }
            match action {
                "pause" => Ok(Command::Pause),
                "resume" => Ok(Command::Resume),
                "stop" => Ok(Command::Stop),
                other => Err(format!("unknown action `{other}` (use pause, resume or stop)")),
            }
        }
        (None, None, None) => Err("say what to change: \"users\", \"rate\" or \"action\"".into()),
        _ => Err("one change per request: \"users\", \"rate\" or \"action\"".into()),
    }
}

/// Whether `given` (an `Authorization` header) carries `token`, compared in constant time.
pub fn authorized(given: Option<&str>, token: &str) -> bool {
    let Some(given) = given.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answer a request to `/api/control`. `steering` is `None` without `--control`.
pub fn answer(steering: Option<&Steering>, method: &str, auth: Option<&str>, body: &[u8]) -> Answer {
    let Some(s) = steering else {
        if method == "GET" {
            return ("200 OK", serde_json::json!({ "control": false }).to_string());
        }
        return error("401 Unauthorized", "this run takes no control (start it with --control)");
    };
    if method == "GET" {
        let mut v = serde_json::to_value(s.control.status()).unwrap_or_default();
        v["control"] = serde_json::json!(true);
        return ("200 OK", v.to_string());
    }
    if method != "POST" {
        return error("405 Method Not Allowed", "use GET or POST");
    }
    if !authorized(auth, &s.token) {
        s.control.refuse();
        return error("401 Unauthorized", "a wrong or missing token: send Authorization: Bearer TOKEN");
    }
    let command = match parse(body) {
        Ok(c) => c,
        Err(e) => return error("400 Bad Request", e),
    };
    match s.control.apply(command) {
        Ok(status) => ("200 OK", serde_json::to_string(&status).unwrap_or_default()),
        Err(e @ ControlError::Invalid(_)) => error("400 Bad Request", e),
        Err(e @ ControlError::NotRunning(_)) => error("409 Conflict", e),
    }
}

/// A token made at random (32 hex digits), for `--control` without one.
pub fn random_token() -> String {
    use std::hash::BuildHasher;
    let one = |salt: u64| {
        let seed = (std::time::SystemTime::now(), std::process::id(), salt);
        std::collections::hash_map::RandomState::new().hash_one(seed)
    };
    format!("{:016x}{:016x}", one(1), one(2))
}

/// A token people set: 8 to 256 visible characters, no spaces.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.len() < 8 || token.len() > 256 {
        return Err("use 8 to 256 characters".into());
    }
    if token.chars().any(|c| !c.is_ascii_graphic()) {
        return Err("use visible ASCII characters, no spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_issues_shapes_and_nothing_else() {
        let p = |s: &str| parse(s.as_bytes());
        assert_eq!(
            p(r#"{"scenario": "api", "users": 500, "over": "10s"}"#).unwrap(),
            Command::Users { scenario: Some("api".into()), users: 500.0, over: Duration::from_secs(10) }
        );
        assert_eq!(
            p(r#"{"rate": 300}"#).unwrap(),
            Command::Rate { scenario: None, rate: 300.0, over: Duration::from_secs(1) }
        );
        assert_eq!(p(r#"{"action": "pause"}"#).unwrap(), Command::Pause);
        assert_eq!(p(r#"{"action": "stop"}"#).unwrap(), Command::Stop);
        assert!(p(r#"{"action": "explode"}"#).unwrap_err().contains("unknown action"));
        assert!(p(r#"{"users": 5, "rate": 3}"#).unwrap_err().contains("one change"));
        assert!(p(r#"{"userz": 5}"#).unwrap_err().contains("unknown field"));
        assert!(p("{").unwrap_err().contains("not a control request"));
        assert!(p(r#"{"users": 5, "over": "soon"}"#).unwrap_err().starts_with("over:"));
        assert!(p("{}").unwrap_err().contains("say what"));
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert!(authorized(Some("Bearer s3cret-token"), "s3cret-token"));
        assert!(!authorized(Some("Bearer s3cret-tokeN"), "s3cret-token"));
        assert!(!authorized(Some("s3cret-token"), "s3cret-token"));
        assert!(!authorized(Some("Bearer "), "s3cret-token"));
        assert!(!authorized(None, "s3cret-token"));
        assert_ne!(random_token(), random_token());
        assert!(check_token("short").is_err());
        assert!(check_token("has a space in it").is_err());
        assert!(check_token("fine-token-123").is_ok());
    }
}
