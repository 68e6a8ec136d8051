//! The capture-file reader on arbitrary file contents: pcap, pcapng or
//! garbage. Every delivered frame is also decoded.
#![no_main]

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn path() -> &'static PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
            .path()
            .join("input.pcap")
    })
}

fuzz_target!(|data: &[u8]| {
    let p = path();
    std::fs::File::create(p)
        .and_then(|mut f| f.write_all(data))
        .expect("write input");
    let mut frames = 0u64;
    let (stats, _err) = exaudit::source::offline::read_file(
        p,
        |f| {
            frames += 1;
            assert!(f.data.len() <= data.len());
            let _ = exaudit::decode::decode(f.link, f.data);
        },
        |_| {},
    );
    assert!(frames <= stats.packets);
});
