//! HdrHistogram interval log (`--hdr-log FILE`): one latency histogram per second, in the format
//! HdrHistogram's own tools read, written as the run goes (to a temporary file, renamed at the end).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

pub struct HdrLog {
    out: BufWriter<File>,
    tmp: PathBuf,
    dest: PathBuf,
    serializer: V2DeflateSerializer,
}

impl HdrLog {
    /// Start the log at `dest` for a run that started at `started`.
    pub fn create(dest: &Path, started: SystemTime) -> std::io::Result<HdrLog> {
        let tmp = crate::report::temp_path(dest)?;
        let mut out = BufWriter::new(File::create(&tmp)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(concat!(
                "stampede ",
                env!("CARGO_PKG_VERSION"),
                ": latency in microseconds, one interval per second"
            ))
            .with_start_time(started)
            .with_base_time(started)
            .begin_log_with(&mut out, &mut serializer)?;
        writeln!(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        Ok(HdrLog { out, tmp, dest: dest.to_path_buf(), serializer })
    }

    /// Add the histogram of one interval: `start` after the run began, lasting `length`.
    pub fn add(&mut self, h: &Histogram<u64>, start: Duration, length: Duration) -> std::io::Result<()> {
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        w.write_histogram(h, start, length, None).map_err(|e| std::io::Error::other(format!("{e:?}")))
    }

    /// Flush and move the log into place.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        std::fs::rename(&self.tmp, &self.dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn the_log_reads_back_with_hdrhistogram() {
        let dir = std::env::temp_dir().join(format!("stampede-hdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.hlog");
        let mut log = HdrLog::create(&path, SystemTime::now()).unwrap();
        for i in 0..3u64 {
            let mut h = crate::stats::histogram();
            for v in 1..=100 {
                crate::stats::record(&mut h, v * (i + 1));
            }
            log.add(&h, Duration::from_secs(i), Duration::from_secs(1)).unwrap();
        }
        log.finish().unwrap();
        let text = std::fs::read(&path).unwrap();
        let mut intervals = Vec::new();
        for entry in IntervalLogIterator::new(&text) {
            if let LogEntry::Interval(i) = entry.unwrap() {
                intervals.push((i.start_timestamp(), i.max()));
            }
        }
        assert_eq!(intervals.len(), 3);
        assert_eq!(intervals[2].0, Duration::from_secs(2));
        assert!((intervals[2].1 - 300.0).abs() < 1.0, "{:?}", intervals[2]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
