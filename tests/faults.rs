//! Faults during a run leave no partial output: here, Ctrl-C (SIGINT) in the middle of a
//! long `generate`.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hidden `.NAME.partial-PID` folders in `dir`.
fn partial_folders(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect()
}

#[test]
fn ctrl_c_leaves_no_output() {
    let dir = std::env::temp_dir().join(format!("trackcorr-sigint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // 300 replays take tens of seconds to generate: long enough to interrupt.
    let child = Command::new(env!("CARGO_BIN_EXE_trackcorr"))
        .current_dir(&dir)
        .args(["generate", "--replays", "300", "--out", "big"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while partial_folders(&dir).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the partial folder never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted; no output written"),
        "{stderr}"
    );
    assert!(!dir.join("big").exists());
    assert_eq!(partial_folders(&dir), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}
