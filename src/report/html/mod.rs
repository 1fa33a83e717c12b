//! Self-contained HTML report (`--html FILE`): one file that opens offline, built from the result
//! document alone. Inline CSS, charts drawn by plotters as inline SVG, no script, nothing fetched
//! (a Content-Security-Policy forbids it), every string from the run escaped.

mod charts;
mod marks;
mod metrics;
mod scenarios;
mod sections;
mod service;
mod tables;
mod timeline;

#[cfg(test)]
mod tests;

use super::RunResult;

const STYLE: &str = include_str!("style.css");

/// The whole page.
pub fn render(r: &RunResult) -> String {
    let points = timeline::thin(&r.timeline, timeline::MAX_POINTS);
    let mut o = String::with_capacity(128 * 1024);
    o.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Belt and braces: even a stray reference could not make the page fetch anything.
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    o.push_str(&format!("<title>{} · stampede report</title>\n", esc(&r.name)));
    o.push_str("<style>\n");
    o.push_str(STYLE);
    o.push_str("</style>\n</head>\n<body>\n<main>\n");
    sections::header(&mut o, r);
    sections::banners(&mut o, r);
    sections::cards(&mut o, r);
    if let Some(c) = &r.capacity {
        tables::capacity(&mut o, c);
    }
    sections::over_time(&mut o, r, &points);
    service::service(&mut o, r);
    sections::latency(&mut o, r);
    tables::steps(&mut o, r, &points);
    scenarios::scenarios(&mut o, r, &points);
    metrics::metrics(&mut o, r);
    sections::responses(&mut o, r);
    tables::thresholds(&mut o, r);
    sections::generator(&mut o, r, &points);
    o.push_str(&format!(
        "<footer>{} · result schema {} · this page fetches nothing and runs no script</footer>\n",
        esc(&r.tool),
        esc(&r.schema)
    ));
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// `s` safe in HTML text and in double- or single-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A latency in µs, in the unit that reads best.
/// One statistic of a latency, or `–` when there is none (no data).
fn lat_of(l: Option<&crate::report::result::Latency>, q: impl Fn(&crate::report::result::Latency) -> u64) -> String {
    l.map_or_else(|| "–".into(), |l| lat(q(l)))
}

fn lat(us: u64) -> String {
    crate::units::micros(us as f64)
}

/// A latency in ms (capacity steps carry ms).
fn lat_ms(ms: f64) -> String {
    if ms.is_finite() { crate::units::micros(ms * 1000.0) } else { "–".into() }
}

/// A rate: grouped when large, two decimals when small.
fn rate(r: f64) -> String {
    if !r.is_finite() {
        "–".into()
    } else if r >= 100.0 {
        crate::units::group(r.round() as u64)
    } else {
        format!("{r:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `part` of `whole` in percent, `0` when there is no whole.
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}

/// A percentage with as many decimals as small values need.
fn fmt_pct(p: f64) -> String {
    match p {
        p if !p.is_finite() => "–".into(),
        0.0 => "0%".into(),
        p if p < 0.01 => "<0.01%".into(),
        p if p < 10.0 => format!("{p:.2}%"),
        p => format!("{p:.1}%"),
    }
}

/// An inline bar `value / max` long.
fn bar(value: f64, max: f64, class: &str) -> String {
    let w = if max > 0.0 && value.is_finite() { (100.0 * value / max).clamp(0.0, 100.0) } else { 0.0 };
    format!("<span class=\"bar {class}\"><span style=\"width:{w:.1}%\"></span></span>")
}
