//! Units people type and read: durations ("1m30s", "250ms"), rates, counts, bytes and latencies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parse a duration such as `10s`, `250ms`, `1.5s`, `2m`, `1h30m`, `500us` or a bare number of
/// seconds (`10`). Returns a readable reason on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, text);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{text}`: missing unit after the last number (use ms, s, m or h)"))?;
        if num_len == 0 {
            return Err(format!("`{text}`: expected a number, found `{rest}`"));
        }
        let value: f64 =
            rest[..num_len].parse().map_err(|_| format!("`{text}`: `{}` is not a number", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic() && c != 'µ').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hours" => 3600.0,
            "d" => 86400.0,
            "" => return Err(format!("`{text}`: missing unit (use ms, s, m or h)")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (use ms, s, m or h)")),
        };
        total += value * scale;
    }
    secs_to_duration(total, text)
}

fn secs_to_duration(secs: f64, text: &str) -> Result<Duration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{text}`: a duration must be a non-negative number"));
    }
    if secs > 365.0 * 86400.0 {
        return Err(format!("`{text}`: longer than a year"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parse `--start-at`: RFC 3339 (`2026-11-24T18:00:00Z`, fractional seconds allowed) or
/// `@UNIX_SECONDS`. Refuses times more than a second before `now` (shards would start apart)
/// and more than a day after it (a typo, most likely).
pub fn parse_start_at(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let s = text.trim();
    let at = if let Some(secs) = s.strip_prefix('@') {
        let secs: f64 = secs.parse().map_err(|_| format!("`{text}`: expected @ and seconds since 1970"))?;
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(format!("`{text}`: expected @ and seconds since 1970"));
        }
        UNIX_EPOCH + Duration::from_secs_f64(secs)
    } else {
        humantime::parse_rfc3339(s)
            .map_err(|e| format!("`{text}`: {e}; use RFC 3339 in UTC such as 2026-11-24T18:00:00Z, or @UNIX_SECONDS"))?
    };
    if let Ok(past) = now.duration_since(at)
        && past > Duration::from_secs(1)
    {
        return Err(format!("`{text}` was {} ago; give a time in the future", duration(past)));
    }
    if at.duration_since(now).is_ok_and(|ahead| ahead > Duration::from_secs(86400)) {
        return Err(format!("`{text}` is more than a day away"));
    }
    Ok(at)
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units: `1.50 MiB`.
pub fn bytes(n: f64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{v:.0} {}", U[0]) } else { format!("{v:.2} {}", U[i]) }
}

/// A latency in microseconds, shown with a unit that keeps three significant digits.
pub fn micros(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 1_000_000.0 {
        let ms = us / 1000.0;
        if ms < 10.0 {
            format!("{ms:.2}ms")
        } else if ms < 100.0 {
            format!("{ms:.1}ms")
        } else {
            format!("{ms:.0}ms")
        }
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// A duration for headings: `10s`, `1m30s`, `250ms`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs_f64();
    if s < 60.0 {
        let r = (s * 10.0).round() / 10.0;
        return if r.fract() == 0.0 { format!("{r:.0}s") } else { format!("{r:.1}s") };
    }
    let total = d.as_secs();
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if sec > 0 {
        out += &format!("{sec}s");
    }
    out
}

/// `v` to two decimals.
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// `v` to three decimals.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_at_takes_rfc3339_or_unix_seconds() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let at = parse_start_at("@1795000030", now).unwrap();
        assert_eq!(at, now + Duration::from_secs(30));
        let at = parse_start_at("@1795000030.5", now).unwrap();
        assert_eq!(at, now + Duration::from_millis(30_500));
        let text = humantime::format_rfc3339(now + Duration::from_secs(60)).to_string();
        assert_eq!(parse_start_at(&text, now).unwrap(), now + Duration::from_secs(60));
    }

    #[test]
    fn start_at_refuses_the_past_the_far_future_and_garbage() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert!(parse_start_at("@1794999990", now).unwrap_err().contains("ago"));
        assert!(parse_start_at("@1794999999.5", now).is_ok(), "half a second late still starts");
        assert!(parse_start_at("@1795100000", now).unwrap_err().contains("more than a day"));
        assert!(parse_start_at("tomorrow", now).unwrap_err().contains("RFC 3339"));
        assert!(parse_start_at("@soon", now).unwrap_err().contains("seconds since 1970"));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h 2m").unwrap(), Duration::from_secs(3720));
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
    }

    #[test]
    fn durations_refused_with_reason() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit `x`"));
        assert!(parse_duration("s").unwrap_err().contains("expected a number"));
        assert!(parse_duration("-1").unwrap_err().contains("non-negative"));
        assert!(parse_duration("5s3").unwrap_err().contains("missing unit"));
    }

    #[test]
    fn formatting() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(group(100), "100");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.50 KiB");
        assert_eq!(micros(850.0), "850µs");
        assert_eq!(micros(1234.0), "1.23ms");
        assert_eq!(micros(2_500_000.0), "2.50s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_millis(2500)), "2.5s");
    }
}
