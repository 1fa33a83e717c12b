//! `include = ["journeys.toml"]`: a scenario file and the files it includes (paths relative to
//! the including file, nested) read into one file. Included tables come first, in `include`
//! order; a name defined twice, an include cycle and a missing file are refused naming the places.
//! A setting of one value (`target`, `http`, `[load]`...) set by the including file wins over an
//! included one; two included files that both set it are refused (the including file decides).

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use toml::Spanned;

use super::raw::{File, MonitorSpec};
use super::span::Source;
use crate::error::PlanError;

/// Read the scenario `text` (the file at `path`) and every file it includes, as one file.
pub(super) fn read(text: &str, path: &Path) -> Result<(Source, File), PlanError> {
    let mut r = Reader { src: Source::default(), chain: Vec::new(), read: HashSet::new() };
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let file = r.file(text, path, key)?;
    let mut seen: Vec<(&str, Range<usize>)> = Vec::new();
    for u in &file.users {
        let name = u.get_ref().name.get_ref().trim();
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let first = r.src.shown(first);
            return Err(r
                .src
                .at(u.get_ref().name.span(), format!("user type `{name}` is defined twice: here and at {first}")));
        }
        seen.push((name, u.get_ref().name.span()));
    }
    Ok((r.src, file))
}

/// Whether a one-value setting set on both sides is the second side's to decide (the including
/// file over what it includes) or a conflict (two included files), unless the including file
/// sets it itself (these names).
#[derive(Clone, Copy)]
enum Scalars<'a> {
    SecondWins,
    Refuse(&'a [&'static str]),
}

/// The one-value settings `file` sets itself, by the names [`Reader::merge`] gives them.
fn settings(file: &File) -> Vec<&'static str> {
    let monitor = file.monitor.as_ref();
    [
        ("name", file.name.is_some()),
        ("http", file.http.is_some()),
        ("sources", file.sources.is_some()),
        ("dns", file.dns.is_some()),
        ("target", file.target.is_some()),
        ("timeout", file.timeout.is_some()),
        ("redirects", file.redirects.is_some()),
        ("on_fail", file.on_fail.is_some()),
        ("[load]", file.load.is_some()),
        ("[monitor] interval", monitor.is_some_and(|m| m.interval.is_some())),
        ("[monitor] prometheus", monitor.is_some_and(|m| m.prometheus.is_some())),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

struct Reader {
    src: Source,
    /// The files being read, outermost first: canonical path and path as written.
    chain: Vec<(PathBuf, String)>,
    /// Every file read so far: one included twice (not in a cycle) is read once.
    read: HashSet<PathBuf>,
}

impl Reader {
    /// One file and, before its own tables, those of the files it includes.
    fn file(&mut self, text: &str, path: &Path, key: PathBuf) -> Result<File, PlanError> {
        let mut file: File = self.src.parse(text, path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.chain.push((key.clone(), path.display().to_string()));
        self.read.insert(key);
        let own = settings(&file);
        let mut included: Option<File> = None;
        for inc in std::mem::take(&mut file.include) {
            let Some((child, key)) = self.open(&inc, &dir)? else { continue };
            let child = self.file(&child, &dir.join(inc.get_ref()), key)?;
            included = Some(match included {
                None => child,
                Some(before) => self.merge(before, child, Scalars::Refuse(&own))?,
            });
        }
        self.chain.pop();
        match included {
            None => Ok(file),
            Some(inc) => self.merge(inc, file, Scalars::SecondWins),
        }
    }

    /// The text of an included file and its canonical path; `None` for one already read.
    fn open(&self, inc: &Spanned<String>, dir: &Path) -> Result<Option<(String, PathBuf)>, PlanError> {
        let path = dir.join(inc.get_ref());
        let missing = |e: std::io::Error| {
            self.src.at(inc.span(), format!("include `{}`: cannot read {}: {e}", inc.get_ref(), path.display()))
        };
        let key = std::fs::canonicalize(&path).map_err(missing)?;
        if let Some(i) = self.chain.iter().position(|(k, _)| *k == key) {
            let mut names: Vec<&str> = self.chain[i..].iter().map(|(_, shown)| shown.as_str()).collect();
            let again = path.display().to_string();
            names.push(&again);
            return Err(self.src.at(inc.span(), format!("include cycle: {}", names.join(" → "))));
        }
        if self.read.contains(&key) {
            return Ok(None);
        }
        std::fs::read_to_string(&path).map(|text| Some((text, key))).map_err(missing)
    }

    /// `first`'s tables, then `second`'s; one-value settings by `scalars`.
    fn merge(&self, first: File, second: File, scalars: Scalars<'_>) -> Result<File, PlanError> {
        let list = |v: &Vec<Spanned<String>>| v.first().map_or(0..0, Spanned::span);
        let mut users = first.users;
        users.extend(second.users);
        let mut thresholds = first.thresholds;
        thresholds.extend(second.thresholds);
        Ok(File {
            include: Vec::new(),
            name: self.scalar("name", first.name, second.name, scalars, Spanned::span)?,
            http: self.scalar("http", first.http, second.http, scalars, Spanned::span)?,
            sources: self.scalar("sources", first.sources, second.sources, scalars, list)?,
            dns: self.scalar("dns", first.dns, second.dns, scalars, Spanned::span)?,
            target: self.scalar("target", first.target, second.target, scalars, Spanned::span)?,
            timeout: self.scalar("timeout", first.timeout, second.timeout, scalars, Spanned::span)?,
            redirects: self.scalar("redirects", first.redirects, second.redirects, scalars, Spanned::span)?,
            on_fail: self.scalar("on_fail", first.on_fail, second.on_fail, scalars, Spanned::span)?,
            load: self.scalar("[load]", first.load, second.load, scalars, Spanned::span)?,
            metrics: self.map("metric", first.metrics, second.metrics)?,
            scenarios: self.map("scenario", first.scenarios, second.scenarios)?,
            monitor: self.monitor(first.monitor, second.monitor, scalars)?,
            thresholds,
            users,
        })
    }

    /// A one-value setting: the one side that sets it, else `second` or a refusal by `scalars`.
    fn scalar<T>(
        &self,
        what: &str,
        first: Option<T>,
        second: Option<T>,
        scalars: Scalars<'_>,
        span: impl Fn(&T) -> Range<usize>,
    ) -> Result<Option<T>, PlanError> {
        match (first, second, scalars) {
            (Some(a), Some(b), Scalars::Refuse(own)) if !own.contains(&what) => {
                let at = self.src.shown(&span(&a));
                let including = self.chain.last().map_or("", |(_, shown)| shown.as_str());
                Err(self.src.at(
                    span(&b),
                    format!(
                        "`{what}` is set here and at {at}, two included files: set it in {including}, whose own value wins"
                    ),
                ))
            }
            (a, None, _) => Ok(a),
            (_, b, _) => Ok(b),
        }
    }

    /// Named tables of both sides, `first`'s first; a name on both sides is refused.
    fn map<T>(
        &self,
        what: &str,
        first: Option<IndexMap<String, Spanned<T>>>,
        second: Option<IndexMap<String, Spanned<T>>>,
    ) -> Result<Option<IndexMap<String, Spanned<T>>>, PlanError> {
        let (mut all, more) = match (first, second) {
            (Some(a), Some(b)) => (a, b),
            (a, b) => return Ok(a.or(b)),
        };
        for (name, value) in more {
            if let Some(before) = all.get(&name) {
                let at = self.src.shown(&before.span());
                return Err(self.src.at(value.span(), format!("{what} `{name}` is defined twice: here and at {at}")));
            }
            all.insert(name, value);
        }
        Ok(Some(all))
    }

    /// `[monitor]` of both sides: sources and series together, one-value settings by `scalars`.
    fn monitor(
        &self,
        first: Option<MonitorSpec>,
        second: Option<MonitorSpec>,
        scalars: Scalars<'_>,
    ) -> Result<Option<MonitorSpec>, PlanError> {
        let (a, b) = match (first, second) {
            (Some(a), Some(b)) => (a, b),
            (a, b) => return Ok(a.or(b)),
        };
        let mut scrape = a.scrape;
        for s in b.scrape {
            if !scrape.contains(&s) {
                scrape.push(s);
            }
        }
        let series = self.map("series", Some(a.series), Some(b.series))?.unwrap_or_default();
        let spec = MonitorSpec {
            interval: self.scalar("[monitor] interval", a.interval, b.interval, scalars, Spanned::span)?,
            prometheus: self.scalar("[monitor] prometheus", a.prometheus, b.prometheus, scalars, Spanned::span)?,
            scrape,
            series,
        };
        Ok(Some(spec))
    }
}
