//! The words the threshold grammar keeps for itself (built-in metric names and the near misses it
//! corrects), so that metrics of your own cannot take them.

/// The built-in metric names (lower case; `p` is `p(N)`).
pub const BUILT_IN: &[&str] =
    &["p", "avg", "mean", "min", "max", "med", "last", "growth", "errors", "error_rate", "checks", "rps", "requests"];

/// What a near miss of a built-in metric means (`p95` → `p(95)`), lower case.
pub fn near_miss(lower: &str) -> Option<String> {
    match lower.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()) {
        Some(n) => Some(format!("p({n})")),
        None if ["error", "check", "request"].contains(&lower) => Some(format!("{lower}s")),
        None if lower == "median" => Some("med".into()),
        None if lower == "average" => Some("avg".into()),
        None => None,
    }
}

/// Whether the threshold parser reads `word` itself, so that it cannot name a metric of your own:
/// a built-in metric (`p`, `avg`, `errors`, …) or a near miss it corrects (`p95`, `error`,
/// `median`). Case-insensitive.
pub fn is_reserved(word: &str) -> bool {
    let lower = word.to_lowercase();
    BUILT_IN.contains(&lower.as_str()) || near_miss(&lower).is_some()
}

/// Why `name` cannot name a metric of your own or a watched series, if it cannot: ASCII letters,
/// digits and `_`, starting with a letter, and not a word the threshold grammar reads itself.
pub fn check_name(name: &str) -> Result<(), String> {
    let first = name.chars().next();
    if !first.is_some_and(|c| c.is_ascii_alphabetic()) || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "name `{name}`: use ASCII letters, digits and `_`, starting with a letter (e.g. server_cpu)"
        ));
    }
    if is_reserved(name) {
        return Err(format!("name `{name}` is taken by a built-in metric; choose another"));
    }
    Ok(())
}
