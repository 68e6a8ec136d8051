//! The capture-file reader on gzip-compressed arbitrary contents (the
//! input is compressed before it is written, so the fuzzer drives the
//! capture parser behind the decompressor).
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
            .join("input.pcap.gz")
    })
}

fuzz_target!(|data: &[u8]| {
    // First byte: 0 = cut the gzip stream short at a point the rest names.
    let (cut, data) = match data.split_first() {
        Some((&c, rest)) => (c, rest),
        None => return,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    let mut bytes = gz.finish().expect("gzip");
    if cut & 1 == 1 && !bytes.is_empty() {
        let keep = usize::from(cut >> 1) * bytes.len() / 128;
        bytes.truncate(keep.max(2));
    }
    let p = path();
    std::fs::File::create(p)
        .and_then(|mut f| f.write_all(&bytes))
        .expect("write input");
    let _ = exaudit::source::offline::read_file(
        p,
        |f| {
            let _ = exaudit::decode::decode(f.link, f.data);
        },
        |_| {},
    );
});
