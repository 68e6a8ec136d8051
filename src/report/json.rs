//! `ndjson` (one object per line: flows, findings, then the summary) and
//! `json` (one document with the same parts).

use std::io::{self, Write};

use serde::Serialize;

use crate::audit::{Audit, TopologyInfo};

use super::Summary;

/// Records serialized per chunk by each thread.
const CHUNK: usize = 4096;

/// Writes `items` as JSON, each followed by `sep` (`first` before the very
/// first), serialized on up to four threads in chunks and written in order:
/// a 200k-flow audit is 150 MB of JSON, most of the time after the read.
fn write_all_json<T: Serialize + Sync>(
    items: &[T],
    out: &mut dyn Write,
    sep: &[u8],
    first: &[u8],
) -> io::Result<()> {
    let encode = |chunk: &[T], at_start: bool| -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(chunk.len() * 512);
        for (i, item) in chunk.iter().enumerate() {
            if at_start && i == 0 {
                buf.extend_from_slice(first);
            } else {
                buf.extend_from_slice(sep);
            }
            serde_json::to_writer(&mut buf, item)?;
        }
        Ok(buf)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let chunks: Vec<&[T]> = items.chunks(CHUNK).collect();
    if threads < 2 || chunks.len() < 2 {
        for (n, c) in chunks.iter().enumerate() {
            out.write_all(&encode(c, n == 0)?)?;
        }
        return Ok(());
    }
    std::thread::scope(|s| {
        // Thread k encodes chunks k, k + threads, ...; each has its own small
        // queue, so the writer takes chunks in order and memory stays bounded.
        let mut queues = Vec::with_capacity(threads);
        for k in 0..threads {
            let (tx, rx) = crossbeam_channel::bounded::<io::Result<Vec<u8>>>(2);
            let mine: Vec<(usize, &[T])> = chunks
                .iter()
                .enumerate()
                .skip(k)
                .step_by(threads)
                .map(|(n, c)| (n, *c))
                .collect();
            let encode = &encode;
            s.spawn(move || {
                for (n, c) in mine {
                    if tx.send(encode(c, n == 0)).is_err() {
                        return;
                    }
                }
            });
            queues.push(rx);
        }
        for n in 0..chunks.len() {
            let buf = queues
                .get(n % threads)
                .and_then(|q| q.recv().ok())
                .unwrap_or_else(|| Err(io::Error::other("a JSON encoding thread stopped")))?;
            out.write_all(&buf)?;
        }
        Ok(())
    })
}

pub fn ndjson(a: &Audit, out: &mut dyn Write) -> io::Result<()> {
    if !a.flows.is_empty() {
        write_all_json(&a.flows, out, b"\n", b"")?;
        out.write_all(b"\n")?;
    }
    for f in &a.findings {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    serde_json::to_writer(
        &mut *out,
        &SummaryWithTopology {
            summary: &a.summary,
            topology_info: &a.topology,
        },
    )?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct SummaryWithTopology<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    topology_info: &'a TopologyInfo,
}

/// One document: `{"flows":[...],"findings":[...],"summary":{...}}`.
pub fn json(a: &Audit, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(b"{\"flows\":[")?;
    write_all_json(&a.flows, out, b",", b"")?;
    out.write_all(b"],\"findings\":")?;
    serde_json::to_writer(&mut *out, &a.findings)?;
    out.write_all(b",\"summary\":")?;
    serde_json::to_writer(
        &mut *out,
        &SummaryWithTopology {
            summary: &a.summary,
            topology_info: &a.topology,
        },
    )?;
    out.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_encoding_keeps_order_and_separators() {
        // Several chunks per thread: the writer must interleave them in order.
        let items: Vec<u64> = (0..(CHUNK as u64) * 9 + 17).collect();
        let mut out = Vec::new();
        write_all_json(&items, &mut out, b",", b"").unwrap();
        let want = items.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut out = Vec::new();
        write_all_json(&items[..3], &mut out, b"\n", b"").unwrap();
        assert_eq!(out, b"0\n1\n2");
    }
}
