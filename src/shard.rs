//! Batches past one machine. `--shard I/N` makes `generate` and `correlate` process only the
//! replays `r` with `r % N == I`; every run writes a `manifest.json` (what it read, with
//! SHA-256 hashes, what it ran with, which replays it holds, what it wrote, and the additive
//! part of its scores); [`merge`] joins the outputs of shards `0..N` into what one run over
//! the whole batch writes, byte for byte (but the timings in `summary.json`).
//!
//! Replays are independent at every stage and a replay's random numbers derive from the seed
//! and its index alone, so replay `r` is the same whichever shard makes it.

use crate::error::{Error, Result};
use crate::io::csv::OutputDir;
use crate::metrics::{self, Metrics, ReplayScore, Tally};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// Which replays a run processes: those with `replay % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

/// Environment variables that give a shard's index when `--shard` gives only the count:
/// a Slurm job array's task id and a Kubernetes Indexed Job's completion index.
pub const INDEX_VARIABLES: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

impl Shard {
    /// The whole batch.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn keeps(&self, replay: u32) -> bool {
        replay % self.count == self.index
    }

    /// Parses `I/N`, or `N` with the index taken from the first of [`INDEX_VARIABLES`] that
    /// `var` knows.
    pub fn parse(text: &str, var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let bad = |m: String| Err(Error::Config(format!("--shard {text}: {m}")));
        let number = |s: &str, what: &str| -> Result<u32> {
            s.trim().parse::<u32>().map_err(|_| {
                Error::Config(format!(
                    "--shard {text}: expected I/N or N, with {what} a whole number"
                ))
            })
        };
        let (index, count) = match text.split_once('/') {
            Some((i, n)) => (number(i, "I")?, number(n, "N")?),
            None => {
                let count = number(text, "N")?;
                let Some((name, value)) =
                    INDEX_VARIABLES.iter().find_map(|v| var(v).map(|x| (*v, x)))
                else {
                    return bad(format!(
                        "no shard index: give I/N, or set {}",
                        INDEX_VARIABLES.join(" or ")
                    ));
                };
                let index = value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| Error::Config(format!("{name}={value} is not a whole number")))?;
                (index, count)
            }
        };
        if count == 0 || index >= count {
            return bad(format!(
                "the index must be below the count (0 ≤ I < N), got {index}/{count}"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// A file a run read or wrote, by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// SHA-256 and size of a file, read in blocks.
pub fn hash_file(path: &Path) -> Result<FileHash> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let digest = hasher.finalize();
    Ok(FileHash {
        file: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        bytes,
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// `manifest.json`: what a run (one shard, or the whole batch as shard 0/1) read, ran with
/// and wrote. Nothing in it depends on the time or the machine but `backend`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub trackcorr_version: String,
    /// `generate` or `correlate`.
    pub command: String,
    pub shard: Shard,
    /// Replays this run holds, ascending.
    pub replays: Vec<u32>,
    /// Input role (`reports`, `sensors`, …) → the file read.
    pub inputs: BTreeMap<String, FileHash>,
    /// Options that shape the outputs (scenario options, or the correlation parameters).
    pub options: serde_json::Value,
    /// The backend that ran (`null` for `generate`).
    pub backend: serde_json::Value,
    /// Data files written (not `summary.json`, whose timings vary), with their hashes.
    pub outputs: Vec<FileHash>,
    /// Additive scores per replay, when truth was given: what `merge` adds up.
    pub scores: BTreeMap<u32, Tally>,
}

impl Manifest {
    /// Hashes the outputs `names` of `dir` and writes the manifest into it.
    pub fn write(mut self, dir: &OutputDir, names: &[&str]) -> Result<()> {
        self.outputs = names
            .iter()
            .map(|n| hash_file(&dir.file(n)))
            .collect::<Result<_>>()?;
        let text = serde_json::to_string_pretty(&self)
            .map_err(|e| Error::Config(format!("manifest: {e}")))?;
        dir.write("manifest.json", format!("{text}\n").as_bytes())
    }

    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::input(
                &path,
                e.line(),
                e.column(),
                format!("expected a trackcorr manifest: {e}"),
            )
        })
    }
}

/// The inputs of a run by role, hashed.
pub fn hash_inputs(inputs: &[(&str, Option<&Path>)]) -> Result<BTreeMap<String, FileHash>> {
    inputs
        .iter()
        .filter_map(|(role, p)| p.map(|p| (role, p)))
        .map(|(role, p)| Ok((role.to_string(), hash_file(p)?)))
        .collect()
}

/// What [`merge`] did.
#[derive(Clone, Debug)]
pub struct Merged {
    pub command: String,
    pub shards: u32,
    pub replays: usize,
}

/// Joins the outputs of every shard `0..N` of one run (`dirs`, in any order) into `out`:
/// the CSV files replay by replay, `summary.json` with its counts added and its metrics
/// recomputed from the shards' per-replay scores, and a manifest as one run writes it.
/// Shards of different runs (inputs, options, version or shard count), a shard missing or
/// given twice, are errors.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged> {
    if dirs.is_empty() {
        return Err(Error::Config(
            "merge needs the shards' output folders".into(),
        ));
    }
    let manifests: Vec<Manifest> = dirs
        .iter()
        .map(|d| Manifest::read(d))
        .collect::<Result<_>>()?;
    let first = &manifests[0];
    let count = first.shard.count;
    let mut by_index: Vec<Option<usize>> = vec![None; count as usize];
    for (k, m) in manifests.iter().enumerate() {
        let differs = |what: &str| {
            Err(Error::Config(format!(
                "{} and {} are not shards of one run: their {what} differ",
                dirs[0].display(),
                dirs[k].display()
            )))
        };
        if m.command != first.command {
            return differs("commands");
        }
        if m.trackcorr_version != first.trackcorr_version {
            return differs("trackcorr versions");
        }
        if m.shard.count != count {
            return differs("shard counts");
        }
        if m.inputs
            .iter()
            .map(|(r, h)| (r, &h.sha256))
            .ne(first.inputs.iter().map(|(r, h)| (r, &h.sha256)))
        {
            return differs("inputs (SHA-256)");
        }
        if m.options != first.options {
            return differs("options");
        }
        match &mut by_index[m.shard.index as usize] {
            Some(other) => {
                return Err(Error::Config(format!(
                    "shard {}/{count} is given twice: {} and {}",
                    m.shard.index,
                    dirs[*other].display(),
                    dirs[k].display()
                )));
            }
            slot => *slot = Some(k),
        }
    }
    let missing: Vec<String> = by_index
        .iter()
        .enumerate()
        .filter(|(_, k)| k.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "shards missing: {} (of {count})",
            missing.join(", ")
        )));
    }
    // In shard order from here on.
    let order: Vec<usize> = by_index.into_iter().flatten().collect();
    let dirs: Vec<&PathBuf> = order.iter().map(|&k| &dirs[k]).collect();
    let manifests: Vec<&Manifest> = order.iter().map(|&k| &manifests[k]).collect();

    let dir = OutputDir::create(out)?;
    let names: Vec<String> = first.outputs.iter().map(|f| f.file.clone()).collect();
    for name in &names {
        let paths: Vec<PathBuf> = dirs.iter().map(|d| d.join(name)).collect();
        if name == "sensors.csv" {
            same_everywhere(&paths)?;
            std::fs::copy(&paths[0], dir.file(name)).map_err(|e| Error::io(&paths[0], e))?;
        } else {
            merge_by_replay(&paths, &dir.file(name))?;
        }
    }
    let mut replays: Vec<u32> = manifests.iter().flat_map(|m| m.replays.clone()).collect();
    replays.sort_unstable();
    let mut scores = BTreeMap::new();
    for m in &manifests {
        scores.extend(m.scores.iter().map(|(r, t)| (*r, *t)));
    }
    let summary_paths: Vec<PathBuf> = dirs.iter().map(|d| d.join("summary.json")).collect();
    if summary_paths.iter().all(|p| p.exists()) {
        let mut summary = merge_summaries(&summary_paths, &scores)?;
        // The registration summary, from the shards' estimates in replay order (the same
        // rows, in the same order, as a single run sums), read where an error can name them.
        if names.iter().any(|n| n == "registration.csv") {
            let mut rows = Vec::new();
            for d in &dirs {
                rows.extend(crate::register::read_registration_csv(
                    &d.join("registration.csv"),
                )?);
            }
            // Stable: a replay's rows come from one shard, in its order.
            rows.sort_by_key(|r| r.replay);
            let mut v: serde_json::Value = serde_json::from_str(&summary)
                .map_err(|e| Error::Config(format!("merged summary: {e}")))?;
            v["registration"] = serde_json::to_value(crate::register::summarise_named(&rows))
                .map_err(|e| Error::Config(format!("merged summary: {e}")))?;
            summary = serde_json::to_string_pretty(&v)
                .map_err(|e| Error::Config(format!("merged summary: {e}")))?;
        }
        dir.write("summary.json", format!("{summary}\n").as_bytes())?;
    }
    let merged = Manifest {
        trackcorr_version: first.trackcorr_version.clone(),
        command: first.command.clone(),
        shard: Shard::WHOLE,
        replays: replays.clone(),
        inputs: first.inputs.clone(),
        options: first.options.clone(),
        backend: first.backend.clone(),
        outputs: Vec::new(),
        scores,
    };
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    merged.write(&dir, &name_refs)?;
    dir.commit()?;
    Ok(Merged {
        command: first.command.clone(),
        shards: count,
        replays: replays.len(),
    })
}

/// Checks that files are identical (the sensor table every shard copies).
fn same_everywhere(paths: &[PathBuf]) -> Result<()> {
    let first = hash_file(&paths[0])?;
    for p in &paths[1..] {
        if hash_file(p)?.sha256 != first.sha256 {
            return Err(Error::Config(format!(
                "{} and {} differ: not shards of one run",
                paths[0].display(),
                p.display()
            )));
        }
    }
    Ok(())
}

/// One table being merged: its lines (as CSV text), the next one held back.
struct Source {
    path: PathBuf,
    lines: std::io::Lines<Box<dyn BufRead + Send>>,
    line: usize,
    next: Option<(u32, String)>,
}

impl Source {
    fn advance(&mut self) -> Result<()> {
        self.next = match self.lines.next() {
            None => None,
            Some(l) => {
                let l = l.map_err(|e| Error::io(&self.path, e))?;
                self.line += 1;
                let first = l.split(',').next().unwrap_or("");
                let replay = first.parse::<u32>().map_err(|_| {
                    Error::input(&self.path, self.line, 1, "expected a replay number")
                })?;
                Some((replay, l))
            }
        };
        Ok(())
    }
}

/// Merges tables (CSV or Parquet, as `out`) whose first column is the replay and whose rows
/// are grouped by replay in ascending order (each shard's output): the rows of every replay,
/// replays ascending, one header. Streams; holds one line (or Parquet batch) per file.
fn merge_by_replay(paths: &[PathBuf], out: &Path) -> Result<()> {
    let mut header: Option<String> = None;
    let mut sources = Vec::new();
    for p in paths {
        let mut lines = crate::io::table::open_text(p)?.reader.lines();
        let h = match lines.next() {
            Some(h) => h.map_err(|e| Error::io(p, e))?,
            None => {
                return Err(Error::input(
                    p,
                    1,
                    1,
                    "expected a header, found an empty file",
                ));
            }
        };
        match &header {
            None => header = Some(h),
            Some(h0) if *h0 != h => {
                return Err(Error::input(p, 1, 1, format!("expected the header `{h0}`")));
            }
            Some(_) => {}
        }
        let mut s = Source {
            path: p.clone(),
            lines,
            line: 1,
            next: None,
        };
        s.advance()?;
        sources.push(s);
    }
    let mut w = crate::io::TableWriter::create(out)?;
    let mut text = header.unwrap_or_default();
    text.push('\n');
    w.write_text(&text)?;
    let mut last: Option<u32> = None;
    loop {
        let pick = sources
            .iter()
            .enumerate()
            .filter_map(|(k, s)| s.next.as_ref().map(|(r, _)| (*r, k)))
            .min();
        let Some((replay, k)) = pick else { break };
        if last.is_some_and(|l| l >= replay) {
            let s = &sources[k];
            return Err(Error::input(
                &s.path,
                s.line,
                1,
                format!(
                    "replay {replay} comes after replay {} of another shard or out of order",
                    last.unwrap_or(0)
                ),
            ));
        }
        last = Some(replay);
        let s = &mut sources[k];
        while let Some((r, line)) = &s.next {
            if *r != replay {
                break;
            }
            text.clear();
            text.push_str(line);
            text.push('\n');
            w.write_text(&text)?;
            s.advance()?;
        }
    }
    w.finish()
}

/// The summary of the whole run from the shards' summaries: counts added, metrics from the
/// per-replay scores and the shards' objects, timings added; the rest as the first shard's.
fn merge_summaries(paths: &[PathBuf], scores: &BTreeMap<u32, Tally>) -> Result<String> {
    let mut values = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                p,
                e.line(),
                e.column(),
                format!("expected a trackcorr summary: {e}"),
            )
        })?;
        values.push(v);
    }
    let bad = |p: &Path, what: &str| Error::input(p, 1, 1, format!("expected {what}"));
    let mut merged = values[0].clone();
    for key in ["counts", "timing"] {
        let mut total = values[0][key].clone();
        for v in &values[1..] {
            add_numbers(&mut total, &v[key]);
        }
        merged[key] = total;
    }
    // Each shard's CPU reruns, in shard order.
    let reruns: Vec<serde_json::Value> = values
        .iter()
        .filter_map(|v| v["cpu_reruns"].as_array())
        .flatten()
        .cloned()
        .collect();
    if merged.get("cpu_reruns").is_some() {
        merged["cpu_reruns"] = serde_json::Value::Array(reruns);
    }
    if !values[0]["metrics"].is_null() {
        let params: metrics::gospa::GospaParams = {
            let g = &values[0]["metrics"]["gospa"];
            let f = |k: &str| g[k].as_f64().ok_or_else(|| bad(&paths[0], "metrics.gospa"));
            metrics::gospa::GospaParams {
                p: f("p")?,
                c: f("c")?,
                alpha: f("alpha")?,
            }
        };
        let mut objects: BTreeMap<u32, Vec<metrics::ObjectMetrics>> = BTreeMap::new();
        for (v, p) in values.iter().zip(paths) {
            let list: Vec<metrics::ObjectMetrics> =
                serde_json::from_value(v["metrics"]["objects"].clone())
                    .map_err(|_| bad(p, "metrics.objects"))?;
            for o in list {
                objects.entry(o.replay).or_default().push(o);
            }
        }
        let replays: Vec<ReplayScore> = scores
            .iter()
            .map(|(&replay, &tally)| ReplayScore {
                replay,
                tally,
                objects: objects.remove(&replay).unwrap_or_default(),
                gospa_series: Vec::new(),
            })
            .collect();
        let m = Metrics::combine(replays, &params);
        merged["metrics"] =
            serde_json::to_value(&m).map_err(|e| Error::Config(format!("summary: {e}")))?;
    }
    serde_json::to_string_pretty(&merged).map_err(|e| Error::Config(format!("summary: {e}")))
}

/// Adds the numbers of `b` into `a`, field by field (integers stay integers).
fn add_numbers(a: &mut serde_json::Value, b: &serde_json::Value) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x.iter_mut() {
                if let Some(w) = y.get(k) {
                    add_numbers(v, w);
                }
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            *x = match (x.as_u64(), y.as_u64()) {
                (Some(p), Some(q)) => (p + q).into(),
                _ => serde_json::Number::from_f64(
                    x.as_f64().unwrap_or(0.0) + y.as_f64().unwrap_or(0.0),
                )
                .unwrap_or_else(|| x.clone()),
            };
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::parse("2/5", none).unwrap(),
            Shard { index: 2, count: 5 }
        );
        assert!(Shard::parse("5/5", none).is_err());
        assert!(Shard::parse("1/0", none).is_err());
        assert!(Shard::parse("x/3", none).is_err());
        let err = Shard::parse("4", none).unwrap_err().to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
        let slurm = |v: &str| (v == "SLURM_ARRAY_TASK_ID").then(|| "3".to_string());
        assert_eq!(
            Shard::parse("4", slurm).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "0".to_string());
        assert_eq!(
            Shard::parse("2", k8s).unwrap(),
            Shard { index: 0, count: 2 }
        );
        let shard = Shard { index: 1, count: 3 };
        let kept: Vec<u32> = (0..8).filter(|&r| shard.keeps(r)).collect();
        assert_eq!(kept, [1, 4, 7]);
    }
}
