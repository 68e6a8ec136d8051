//! Helpers shared by the integration tests: locate captures, run the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The third-party captures beside the project (`../shared/captures/public`).
pub fn public_captures() -> PathBuf {
    let p = repo().join("../shared/captures/public");
    assert!(
        p.is_dir(),
        "{} is missing: the public captures must be beside the project (../shared)",
        p.display()
    );
    p
}

/// Finds a capture by file name in captures/ or the public captures.
pub mod pcapgen;

pub fn capture(name: &str) -> PathBuf {
    let local = repo().join("captures").join(name);
    if local.exists() {
        return local;
    }
    let public = public_captures().join(name);
    assert!(
        public.exists(),
        "capture {name} not found in captures/ nor ../shared/captures/public"
    );
    public
}

pub fn exaudit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .args(args)
        .output()
        .expect("run exaudit")
}

/// Runs `exaudit read FILE -f ndjson` and returns (objects, exit code, stderr).
pub fn read_ndjson(files: &[&Path], extra: &[&str]) -> (Vec<serde_json::Value>, i32, String) {
    let mut args: Vec<String> = vec!["read".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["-f".to_string(), "ndjson".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let out = exaudit(&refs);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let objs = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad ndjson line {l:?}: {e}")))
        .collect();
    (
        objs,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn of_type<'a>(objs: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    objs.iter().filter(|o| o["type"] == t).collect()
}
