//! Running the `trackcorr` binary in a scratch folder and reading what it wrote, for the
//! tests that drive it as a user would.

#![allow(dead_code, reason = "each test file uses its own part")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh temporary folder named after the test, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("trackcorr-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs trackcorr in `dir` with extra environment variables.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trackcorr"));
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot run trackcorr")
}

/// [`run`], which must succeed.
pub fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let out = run(dir, args, env);
    assert!(
        out.status.success(),
        "trackcorr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// `summary.json` without what may vary between runs (wall-clock times, thread count).
pub fn summary(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&read(dir, "summary.json")).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timing");
    if let Some(b) = o.get_mut("backend").and_then(|b| b.as_object_mut()) {
        b.remove("threads");
    }
    v
}

/// `trackcorr correlate` on the folder `input` that `generate` wrote (its reports, sensors
/// and truth), on the CPU, into `out`, with `extra` options; it must succeed.
pub fn correlate(dir: &Path, input: &str, out: &str, extra: &[&str]) {
    let files = ["reports", "sensors", "truth"].map(|f| format!("{input}/{f}.csv"));
    let mut args = vec![
        "correlate",
        "--reports",
        &files[0],
        "--sensors",
        &files[1],
        "--truth",
        &files[2],
        "--backend",
        "cpu",
        "--out",
        out,
    ];
    args.extend(extra);
    ok(dir, &args, &[]);
}
