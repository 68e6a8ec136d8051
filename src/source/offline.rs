//! Offline source: classic pcap (µs/ns, both byte orders), pcapng (any mix of
//! link types and timestamp resolutions), optionally gzip-compressed.
//!
//! Reading is done with the pure-Rust `pcap-parser`, which is faster than
//! libpcap for files and reads pcapng whose interfaces differ in link type.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

use crate::decode::LinkType;

/// Largest record the reader accepts (libpcap's MAXIMUM_SNAPLEN).
pub const MAX_RECORD: u32 = 262_144;
const BUFFER: usize = 1 << 20;

/// One captured frame as read from a file.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// 1-based number of the record in its file (0 where there is no file).
    pub record: u64,
}

/// A problem with an input file. Reading stops at the first one; everything
/// before it has been delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    /// 1-based number of the record that could not be read (0: the file header).
    pub packet: u64,
    /// Byte offset of that record in the (decompressed) file.
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.packet == 0 && self.offset == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: packet {} at byte offset {}: {}",
                self.file.display(),
                self.packet,
                self.offset,
                self.message
            )
        }
    }
}

/// Statistics of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    pub packets: u64,
    pub bytes: u64,
    /// Frames on interfaces whose link type is not supported, by link type.
    pub unsupported_link: Vec<(u32, u64)>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Records whose timestamp is earlier than the one before.
    pub ts_backwards: u64,
    /// Records whose timestamp left the running clock and came back (set
    /// by the pipeline's [`crate::source::clock::Clock`]).
    pub clock_jumps: u64,
}

impl FileStats {
    fn unsupported(&mut self, lt: u32) {
        match self.unsupported_link.iter_mut().find(|(l, _)| *l == lt) {
            Some((_, n)) => *n += 1,
            None => self.unsupported_link.push((lt, 1)),
        }
    }
}

/// A record's timestamp, link (None: unsupported), link-type number, bytes, wire length.
type Frame<'a> = (i64, Option<LinkType>, u32, &'a [u8], u32);

struct Iface {
    link: Option<LinkType>,
    linktype: u32,
    /// Timestamp units per second.
    units: u64,
    offset_s: i64,
}

/// The path that means standard input.
pub const STDIN: &str = "-";

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Pcap,
    Pcapng,
    Gzip,
    Zstd,
    Other,
}

/// Tells captures and compressed files by their first bytes, not their name.
pub fn content_of(head: &[u8]) -> Content {
    match head {
        [0xd4, 0xc3, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0xc3, 0xd4, ..]
        | [0x4d, 0x3c, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0x3c, 0x4d, ..] => Content::Pcap,
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => Content::Pcapng,
        [0x1f, 0x8b, ..] => Content::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Content::Zstd,
        _ => Content::Other,
    }
}

/// A capture file, or standard input for `-`, decompressed (gzip or zstd,
/// told by content) when it needs to be.
fn open(path: &Path) -> Result<Box<dyn Read + Send>, String> {
    let input: Box<dyn Read + Send> = if path.as_os_str() == STDIN {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| format!("cannot open: {e}"))?)
    };
    let mut r = BufReader::with_capacity(1 << 16, input);
    let head = std::io::BufRead::fill_buf(&mut r).map_err(|e| format!("cannot read: {e}"))?;
    Ok(match content_of(head) {
        Content::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Content::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(r)
                .map_err(|e| format!("cannot start zstd decompression: {e}"))?,
        ),
        _ => Box::new(r),
    })
}

fn err(path: &Path, packet: u64, offset: u64, message: impl Into<String>) -> InputError {
    InputError {
        file: path.to_path_buf(),
        packet,
        offset,
        message: message.into(),
    }
}

fn legacy_claimed_len(data: &[u8], big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(8..12)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// Reads every frame of `path`, calling `on_frame` for each, and `on_progress`
/// with the number of bytes consumed now and then. Returns the file's
/// statistics, and the error that stopped reading, if any.
pub fn read_file(
    path: &Path,
    mut on_frame: impl FnMut(&RawFrame<'_>),
    mut on_progress: impl FnMut(u64),
) -> (FileStats, Option<InputError>) {
    let mut stats = FileStats::default();
    let input = match open(path) {
        Ok(r) => r,
        Err(m) => return (stats, Some(err(path, 0, 0, m))),
    };
    let mut reader = match create_reader(BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            return (stats, Some(err(path, 0, 0, "empty file: not a pcap or pcapng capture")))
        }
        Err(PcapError::HeaderNotRecognized) | Err(PcapError::Incomplete(_)) => {
            return (
                stats,
                Some(err(
                    path,
                    0,
                    0,
                    "not a capture file: no pcap or pcapng header (is it a capture? convert it with `editcap -F pcap`)",
                )),
            )
        }
        Err(e) => return (stats, Some(err(path, 0, 0, format!("cannot read header: {e}")))),
    };
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy: Option<(Option<LinkType>, u32, bool, bool)> = None; // link, linktype, nanos, big endian
    let mut last_ts = i64::MIN;
    let mut record: u64 = 0;
    let mut since_progress: u64 = 0;
    let mut last_ts_interface_ts: i64 = 0;
    loop {
        let offset = reader.consumed() as u64;
        match reader.next() {
            Ok((len, block)) => {
                let mut frame: Option<Frame<'_>> = None;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        // The upper bits of the field carry FCS flags (libpcap's LT_LINKTYPE).
                        let lt = (h.network.0 as u32) & 0x03ff_ffff;
                        legacy = Some((
                            LinkType::from_linktype(lt),
                            lt,
                            h.is_nanosecond_precision(),
                            h.is_bigendian(),
                        ));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        record += 1;
                        let (link, lt, nanos, _) = legacy.unwrap_or((None, 0, false, false));
                        if b.caplen > MAX_RECORD {
                            return (
                                stats,
                                Some(err(path, record, offset, format!("record claims {} captured bytes, more than the {} maximum: the file is damaged from here on", b.caplen, MAX_RECORD))),
                            );
                        }
                        let frac = if nanos {
                            i64::from(b.ts_usec)
                        } else {
                            i64::from(b.ts_usec).saturating_mul(1000)
                        };
                        let ts = i64::from(b.ts_sec)
                            .saturating_mul(1_000_000_000)
                            .saturating_add(frac);
                        frame = Some((ts, link, lt, b.data, b.origlen));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let lt = idb.linktype.0 as u32;
                        ifaces.push(Iface {
                            link: LinkType::from_linktype(lt),
                            linktype: lt,
                            units: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            offset_s: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        record += 1;
                        let Some(ifc) = ifaces.get(epb.if_id as usize) else {
                            return (stats, Some(err(path, record, offset, format!("packet names interface {} but only {} interfaces were described: the file is damaged", epb.if_id, ifaces.len()))));
                        };
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let ns = (u128::from(raw) * 1_000_000_000u128 / u128::from(ifc.units)) as i64;
                        let ts = ns.saturating_add(ifc.offset_s.saturating_mul(1_000_000_000));
                        let caplen = epb.caplen as usize;
                        let data = epb.data.get(..caplen).unwrap_or(epb.data);
                        frame = Some((ts, ifc.link, ifc.linktype, data, epb.origlen));
                        last_ts_interface_ts = ts;
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        record += 1;
                        let Some(ifc) = ifaces.first() else {
                            return (stats, Some(err(path, record, offset, "simple packet block before any interface description: the file is damaged")));
                        };
                        let caplen = (spb.origlen as usize).min(spb.data.len());
                        let data = spb.data.get(..caplen).unwrap_or(spb.data);
                        frame = Some((last_ts_interface_ts, ifc.link, ifc.linktype, data, spb.origlen));
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                if let Some((ts, link, lt, data, orig_len)) = frame {
                    stats.packets += 1;
                    stats.bytes += u64::from(orig_len.max(data.len() as u32));
                    if stats.first_ts.is_none() {
                        stats.first_ts = Some(ts);
                    }
                    if ts < last_ts {
                        stats.ts_backwards += 1;
                    }
                    last_ts = last_ts.max(ts);
                    stats.last_ts = Some(last_ts);
                    match link {
                        Some(link) => on_frame(&RawFrame {
                            ts,
                            link,
                            data,
                            orig_len,
                            record,
                        }),
                        None => stats.unsupported(lt),
                    }
                }
                reader.consume(len);
                since_progress += len as u64;
                if since_progress >= 1 << 22 {
                    since_progress = 0;
                    on_progress(reader.consumed() as u64);
                }
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    let e = format!("read error: {e}");
                    return (stats, Some(err(path, record + 1, offset, e)));
                }
            }
            Err(PcapError::UnexpectedEof) => {
                return (
                    stats,
                    Some(err(path, record + 1, offset, "the file ends in the middle of a record (cut short while copying or capturing?); everything before it was read")),
                );
            }
            Err(PcapError::BufferTooSmall) => {
                let claimed = legacy
                    .and_then(|(_, _, _, be)| legacy_claimed_len(reader.data(), be))
                    .map(|n| format!("record claims {n} captured bytes"))
                    .unwrap_or_else(|| "block claims a length".to_string());
                return (
                    stats,
                    Some(err(
                        path,
                        record + 1,
                        offset,
                        format!(
                            "{claimed}, more than the {MAX_RECORD} maximum: the file is damaged from here on"
                        ),
                    )),
                );
            }
            Err(e) => {
                return (
                    stats,
                    Some(err(
                        path,
                        record + 1,
                        offset,
                        format!("damaged record ({e}); reading of this file stops here"),
                    )),
                );
            }
        }
    }
    on_progress(reader.consumed() as u64);
    (stats, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pcap_header(magic: u32, big_endian: bool, linktype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend(if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend(if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        w32(&mut v, magic);
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, 65535);
        w32(&mut v, linktype);
        v
    }

    fn record(v: &mut Vec<u8>, big_endian: bool, sec: u32, frac: u32, data: &[u8], orig: u32) {
        for x in [sec, frac, data.len() as u32, orig] {
            v.extend(if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            });
        }
        v.extend_from_slice(data);
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    type Frames = Vec<(i64, LinkType, usize, u32)>;

    fn read_all(path: &Path) -> (Frames, FileStats, Option<InputError>) {
        let mut frames = Vec::new();
        let (stats, err) = read_file(
            path,
            |f| frames.push((f.ts, f.link, f.data.len(), f.orig_len)),
            |_| {},
        );
        (frames, stats, err)
    }

    #[test]
    fn microsecond_little_endian_records() {
        let mut v = pcap_header(0xa1b2c3d4, false, 1);
        record(&mut v, false, 10, 5, &[0u8; 60], 60);
        record(&mut v, false, 11, 6, &[0u8; 54], 1514);
        let f = write(&v);
        let (frames, stats, err) = read_all(f.path());
        assert!(err.is_none());
        assert_eq!(
            frames,
            vec![
                (10_000_005_000, LinkType::Ethernet, 60, 60),
                (11_000_006_000, LinkType::Ethernet, 54, 1514)
            ]
        );
        assert_eq!(stats.packets, 2);
        assert_eq!(stats.bytes, 60 + 1514);
    }

    #[test]
    fn nanosecond_big_endian_records() {
        let mut v = pcap_header(0xa1b23c4d, true, 113);
        record(&mut v, true, 1, 999_999_999, &[0u8; 20], 20);
        let f = write(&v);
        let (frames, _, err) = read_all(f.path());
        assert!(err.is_none());
        assert_eq!(frames, vec![(1_999_999_999, LinkType::LinuxSll, 20, 20)]);
    }

    #[test]
    fn gzip_compressed_capture_reads_like_the_plain_one() {
        let mut v = pcap_header(0xa1b2c3d4, false, 101);
        for i in 0..100 {
            record(&mut v, false, i, 0, &[0x45u8; 40], 40);
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&v).unwrap();
        let f = write(&gz.finish().unwrap());
        let (frames, stats, err) = read_all(f.path());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames.len(), 100);
        assert_eq!(stats.packets, 100);
        assert!(frames.iter().all(|f| f.1 == LinkType::Raw));
    }

    #[test]
    fn header_only_file_is_valid_and_empty() {
        let f = write(&pcap_header(0xa1b2c3d4, false, 1));
        let (frames, stats, err) = read_all(f.path());
        assert!(err.is_none(), "{err:?}");
        assert!(frames.is_empty());
        assert_eq!(stats.packets, 0);
    }

    #[test]
    fn empty_file_and_wrong_magic_are_clear_errors() {
        let f = write(b"");
        let (_, _, err) = read_all(f.path());
        let e = err.unwrap().to_string();
        assert!(e.contains("empty file"), "{e}");
        assert!(e.contains(&f.path().display().to_string()));
        let f = write(b"GET / HTTP/1.1\r\nHost: example\r\n\r\nnot a capture at all");
        let e = read_all(f.path()).2.unwrap().to_string();
        assert!(e.contains("not a capture file"), "{e}");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let (_, _, err) = read_all(Path::new("/nonexistent/case-1234.pcap"));
        let e = err.unwrap().to_string();
        assert!(
            e.contains("/nonexistent/case-1234.pcap") && e.contains("cannot open"),
            "{e}"
        );
    }

    #[test]
    fn truncated_last_record_keeps_what_came_before() {
        let mut v = pcap_header(0xa1b2c3d4, false, 1);
        record(&mut v, false, 1, 0, &[0u8; 60], 60);
        let second_at = v.len() as u64;
        record(&mut v, false, 2, 0, &[0u8; 60], 60);
        v.truncate(v.len() - 10);
        let f = write(&v);
        let (frames, _, err) = read_all(f.path());
        assert_eq!(frames.len(), 1);
        let err = err.unwrap();
        assert_eq!((err.packet, err.offset), (2, second_at));
        assert!(
            err.message.contains("ends in the middle of a record"),
            "{}",
            err.message
        );
    }

    #[test]
    fn absurd_record_length_is_named_with_packet_and_offset() {
        let mut v = pcap_header(0xa1b2c3d4, false, 1);
        record(&mut v, false, 1, 0, &[0u8; 60], 60);
        let bad_at = v.len() as u64;
        for x in [2u32, 0, 0x8000_0000, 0x8000_0000] {
            v.extend(x.to_le_bytes());
        }
        v.extend([0u8; 100]);
        let f = write(&v);
        let (frames, _, err) = read_all(f.path());
        assert_eq!(frames.len(), 1);
        let err = err.unwrap();
        assert_eq!((err.packet, err.offset), (2, bad_at));
        assert!(err.message.contains("2147483648"), "{}", err.message);
    }

    #[test]
    fn record_larger_than_maximum_but_within_buffer_is_rejected() {
        let mut v = pcap_header(0xa1b2c3d4, false, 1);
        record(&mut v, false, 1, 0, &vec![0u8; 300_000], 300_000);
        let f = write(&v);
        let (frames, _, err) = read_all(f.path());
        assert!(frames.is_empty());
        assert!(err.unwrap().message.contains("300000"));
    }

    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut v = kind.to_le_bytes().to_vec();
        v.extend(len.to_le_bytes());
        v.extend_from_slice(body);
        v.extend(len.to_le_bytes());
        v
    }

    fn shb() -> Vec<u8> {
        let mut b = 0x1a2b3c4du32.to_le_bytes().to_vec();
        b.extend(1u16.to_le_bytes());
        b.extend(0u16.to_le_bytes());
        b.extend((-1i64).to_le_bytes());
        ng_block(0x0a0d0d0a, &b)
    }

    fn idb(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut b = linktype.to_le_bytes().to_vec();
        b.extend(0u16.to_le_bytes());
        b.extend(65535u32.to_le_bytes());
        if let Some(r) = tsresol {
            b.extend(9u16.to_le_bytes());
            b.extend(1u16.to_le_bytes());
            b.extend([r, 0, 0, 0]);
            b.extend([0u8; 4]);
        }
        ng_block(1, &b)
    }

    fn epb(if_id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut b = if_id.to_le_bytes().to_vec();
        b.extend(((ts >> 32) as u32).to_le_bytes());
        b.extend((ts as u32).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        ng_block(6, &b)
    }

    #[test]
    fn pcapng_with_mixed_link_types_and_resolutions() {
        let mut v = shb();
        v.extend(idb(1, None));
        v.extend(idb(276, Some(9)));
        v.extend(epb(0, 1_000_000, &[0u8; 60]));
        v.extend(epb(1, 2_000_000_000, &[0u8; 40]));
        let f = write(&v);
        let (frames, _, err) = read_all(f.path());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            vec![
                (1_000_000_000, LinkType::Ethernet, 60, 60),
                (2_000_000_000, LinkType::LinuxSll2, 40, 40)
            ]
        );
    }

    #[test]
    fn pcapng_corrupt_block_in_the_middle_keeps_the_readable_part() {
        let mut v = shb();
        v.extend(idb(1, None));
        v.extend(epb(0, 1, &[0u8; 60]));
        let bad_at = v.len() as u64;
        let mut bad = epb(0, 2, &[0u8; 60]);
        bad[4..8].copy_from_slice(&7u32.to_le_bytes()); // block length not a multiple of 4, too small
        v.extend(bad);
        v.extend(epb(0, 3, &[0u8; 60]));
        let f = write(&v);
        let (frames, _, err) = read_all(f.path());
        assert_eq!(frames.len(), 1);
        let err = err.expect("corrupt block reported");
        assert_eq!((err.packet, err.offset), (2, bad_at));
    }

    #[test]
    fn unsupported_link_type_is_counted_by_type() {
        let mut v = pcap_header(0xa1b2c3d4, false, 147);
        record(&mut v, false, 1, 0, &[0u8; 20], 20);
        let f = write(&v);
        let (frames, stats, err) = read_all(f.path());
        assert!(err.is_none());
        assert!(frames.is_empty());
        assert_eq!(stats.unsupported_link, vec![(147, 1)]);
    }

    #[test]
    fn public_corrupt_captures_report_packet_and_offset() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/public");
        if !dir.is_dir() {
            eprintln!("skipping public_corrupt_captures_report_packet_and_offset: ../shared/captures/public not found");
            return;
        }
        let f = dir.join("sv__smtp-to-comma__10.7.29.101_49898-178.63.41.150_25.pcap");
        assert!(f.exists(), "{} is missing", f.display());
        let (frames, _, err) = read_all(&f);
        assert_eq!(frames.len(), 18);
        let err = err.unwrap();
        assert_eq!(err.packet, 19);
        assert!(err.to_string().contains("3925868813"), "{err}");
        // Its only record claims 524501 bytes of which 199 are in the file.
        let (frames, _, err) = read_all(&dir.join("ndpi__fuzz-2021-10-13.pcap"));
        assert!(frames.is_empty());
        let err = err.unwrap();
        assert_eq!((err.packet, err.offset), (1, 24));
        assert!(err.message.contains("ends in the middle"));
    }
}
