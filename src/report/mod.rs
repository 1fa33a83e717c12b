//! Reports: the result document every run produces ([`result`]), and the ways it is shown or
//! saved (text summary in [`text`], JSON files written atomically).

pub(crate) mod compare;
pub(crate) mod csv;
pub(crate) mod hdrlog;
pub(crate) mod html;
pub(crate) mod identity;
pub(crate) mod junit;
pub(crate) mod measure;
pub(crate) mod merge;
pub(crate) mod metric;
pub mod result;
#[cfg(test)]
pub(crate) mod sample;
pub mod sources;
pub(crate) mod text;
pub(crate) mod window;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use result::RunResult;

/// The files a result is written to besides the text summary (each optional).
#[derive(Debug, Clone, Default)]
pub struct Files {
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

/// Write `r` to every requested file, each atomically. Stops at the first that fails.
pub fn write_files(r: &RunResult, files: &Files) -> std::io::Result<()> {
    let err =
        |path: &Path, e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
    type Render<'a> = &'a dyn Fn(&RunResult) -> String;
    let outputs: [(&Option<PathBuf>, Render); 4] = [
        (&files.json, &|r| r.to_json()),
        (&files.html, &html::render),
        (&files.csv, &csv::timeline),
        (&files.junit, &junit::thresholds),
    ];
    for (path, render) in outputs {
        if let Some(path) = path {
            write_atomic(path, render(r).as_bytes()).map_err(|e| err(path, e))?;
        }
    }
    Ok(())
}

/// A temporary path next to `path`, for writing before the rename.
pub fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    Ok(dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id())))
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, then a rename,
/// so a reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = std::env::temp_dir().join(format!("stampede-aw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        write_atomic(&p, b"first version, longer").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
