//! The input's running clock, and the timestamps that leave it.
//!
//! Capture files carry the odd bogus timestamp: one packet 48 years in the
//! future between two packets a millisecond apart (a driver or a conversion
//! tool writing garbage), or one from 1970. Taken at face value, a leap
//! forward expires every flow in the table (their idle time is suddenly
//! decades) and the next packet of each starts a second flow; a leap back
//! makes durations negative. But time also really passes: the next file of a
//! rotation, a capture stopped at night and resumed in the morning.
//!
//! The two are told apart by what comes after. A packet whose timestamp is
//! more than the longest idle timeout away from the running clock (forward
//! or backward) is held, with up to [`LOOKAHEAD`] packets after it:
//! - if a packet after it is back on the running clock, the held packet was
//!   an **outlier**: it is counted (`clock_jumps`), listed for a warning
//!   with its file and packet number, and passed on with the running
//!   clock's time, so it neither expires nor splits flows;
//! - if none of the [`LOOKAHEAD`] packets after it comes back (or the input
//!   ends first), the clock **really moved**: the running clock takes the
//!   new time and flows expire as usual.
//!
//! Holding copies only the few packets after a suspect, so the steady state
//! still copies nothing.

use super::offline::RawFrame;
use crate::decode::LinkType;

/// Packets after a suspect timestamp that must agree with it for the jump to
/// count as real time passing.
pub const LOOKAHEAD: usize = 4;
/// Outliers listed for the warning (all are counted).
pub const MAX_LISTED: usize = 16;

/// A packet whose timestamp was taken for a glitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outlier {
    /// Index of the input file.
    pub file: usize,
    /// 1-based packet number in that file.
    pub record: u64,
    /// The timestamp the file gave it.
    pub ts: i64,
    /// The running clock's time it was given instead.
    pub clock: i64,
}

/// First and last time of one input on the running clock, and how many of
/// its packets went back in time (within the tolerance, reordering).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub backwards: u64,
    /// Its packets taken for glitches ([`Clock::jumps`] counts them all).
    pub jumps: u64,
    prev: Option<i64>,
}

struct Held {
    file: usize,
    ts: i64,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
    record: u64,
}

impl Held {
    fn of(file: usize, f: &RawFrame<'_>) -> Held {
        Held {
            file,
            ts: f.ts,
            link: f.link,
            data: f.data.to_vec(),
            orig_len: f.orig_len,
            record: f.record,
        }
    }

    fn frame(&self, ts: i64) -> RawFrame<'_> {
        RawFrame {
            ts,
            link: self.link,
            data: &self.data,
            orig_len: self.orig_len,
            record: self.record,
        }
    }
}

/// Filters frames through the running clock; see the module documentation.
pub struct Clock {
    /// How far from the running clock a timestamp may be, ns.
    jump: i64,
    now: Option<i64>,
    /// `held[0]` is the suspect, the rest came after it.
    held: Vec<Held>,
    /// Outlier packets, all of them.
    pub jumps: u64,
    /// The first [`MAX_LISTED`] outliers.
    pub listed: Vec<Outlier>,
    /// Lasting jumps of the clock (real time passing, or a clock set back).
    pub steps: u64,
    /// Per input file, on the running clock.
    pub spans: Vec<Span>,
}

impl Clock {
    /// A clock tolerating `jump_ns` between a packet and the running clock
    /// (the longest idle timeout: a smaller gap never expires a flow).
    pub fn new(jump_ns: i64) -> Clock {
        Clock {
            jump: jump_ns.max(1),
            now: None,
            held: Vec::new(),
            jumps: 0,
            listed: Vec::new(),
            steps: 0,
            spans: Vec::new(),
        }
    }

    fn off(&self, ts: i64) -> bool {
        self.now
            .is_some_and(|c| ts.saturating_sub(c).saturating_abs() > self.jump)
    }

    /// Takes one frame of input `file`; passes frames on to `out` in input
    /// order, some later than they came.
    pub fn frame(&mut self, file: usize, f: &RawFrame<'_>, out: &mut impl FnMut(&RawFrame<'_>)) {
        if self.held.is_empty() {
            if self.off(f.ts) {
                self.held.push(Held::of(file, f));
            } else {
                self.release(file, f, None, out);
            }
            return;
        }
        if !self.off(f.ts) {
            // Back on the running clock: the suspect was a glitch.
            self.decide(false, out);
            self.frame(file, f, out);
        } else {
            self.held.push(Held::of(file, f));
            if self.held.len() > LOOKAHEAD {
                self.decide(true, out);
            }
        }
    }

    /// End of input: nothing came back to the running clock after the
    /// suspect, so the clock really moved.
    pub fn finish(&mut self, out: &mut impl FnMut(&RawFrame<'_>)) {
        while !self.held.is_empty() {
            self.decide(true, out);
        }
    }

    /// Releases the suspect (as a glitch, or as the clock's new time) and
    /// re-reads the packets held after it.
    fn decide(&mut self, lasting: bool, out: &mut impl FnMut(&RawFrame<'_>)) {
        let mut held = std::mem::take(&mut self.held).into_iter();
        let Some(first) = held.next() else {
            return;
        };
        if lasting {
            self.steps += 1;
            self.now = Some(first.ts);
            self.release(first.file, &first.frame(first.ts), None, out);
        } else {
            let clock = self.now.unwrap_or(first.ts);
            self.jumps += 1;
            if self.listed.len() < MAX_LISTED {
                self.listed.push(Outlier {
                    file: first.file,
                    record: first.record,
                    ts: first.ts,
                    clock,
                });
            }
            self.release(first.file, &first.frame(clock), Some(clock), out);
        }
        for h in held {
            self.frame(h.file, &h.frame(h.ts), out);
        }
    }

    fn release(
        &mut self,
        file: usize,
        f: &RawFrame<'_>,
        glitch: Option<i64>,
        out: &mut impl FnMut(&RawFrame<'_>),
    ) {
        if glitch.is_none() {
            self.now = Some(self.now.map_or(f.ts, |c| c.max(f.ts)));
        }
        if self.spans.len() <= file {
            self.spans.resize(file + 1, Span::default());
        }
        if let Some(s) = self.spans.get_mut(file) {
            s.first.get_or_insert(f.ts);
            s.last = Some(s.last.map_or(f.ts, |l| l.max(f.ts)));
            if s.prev.is_some_and(|p| f.ts < p) {
                s.backwards += 1;
            }
            s.prev = Some(f.ts);
            s.jumps += u64::from(glitch.is_some());
        }
        out(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    /// Runs timestamps (seconds) of one file through a clock with a 300 s
    /// tolerance; returns the times passed on, and the clock.
    fn run(ts: &[i64]) -> (Vec<(u64, i64)>, Clock) {
        let mut clock = Clock::new(300 * S);
        let mut out = Vec::new();
        let data = [0u8; 4];
        for (i, t) in ts.iter().enumerate() {
            let f = RawFrame {
                ts: t * S,
                link: LinkType::Raw,
                data: &data,
                orig_len: 4,
                record: i as u64 + 1,
            };
            clock.frame(0, &f, &mut |f| out.push((f.record, f.ts / S)));
        }
        clock.finish(&mut |f| out.push((f.record, f.ts / S)));
        (out, clock)
    }

    #[test]
    fn a_lone_leap_forward_is_a_glitch_on_the_running_clock() {
        let year_2063 = 2_945_459_397;
        let (out, c) = run(&[1000, year_2063, 1001, 1002]);
        assert_eq!(out, vec![(1, 1000), (2, 1000), (3, 1001), (4, 1002)]);
        assert_eq!(c.jumps, 1);
        assert_eq!(c.steps, 0);
        assert_eq!(
            c.listed,
            vec![Outlier {
                file: 0,
                record: 2,
                ts: year_2063 * S,
                clock: 1000 * S
            }]
        );
        assert_eq!(c.spans[0].last, Some(1002 * S));
        assert_eq!(c.spans[0].backwards, 0);
    }

    #[test]
    fn a_lone_leap_back_is_a_glitch_too() {
        let (out, c) = run(&[100_000, 5, 100_001]);
        assert_eq!(out, vec![(1, 100_000), (2, 100_000), (3, 100_001)]);
        assert_eq!(c.jumps, 1);
        assert_eq!(c.spans[0].first, Some(100_000 * S));
    }

    #[test]
    fn a_lasting_jump_is_time_passing() {
        // A capture resumed the next morning: every packet after agrees.
        let (out, c) = run(&[1000, 1001, 90_000, 90_001, 90_002, 90_003, 90_004, 90_005]);
        let times: Vec<i64> = out.iter().map(|o| o.1).collect();
        assert_eq!(
            times,
            vec![1000, 1001, 90_000, 90_001, 90_002, 90_003, 90_004, 90_005]
        );
        assert_eq!(c.jumps, 0);
        assert_eq!(c.steps, 1);
    }

    #[test]
    fn a_jump_nothing_contradicts_is_kept() {
        // Near the end of the input.
        let (out, c) = run(&[1000, 90_000, 90_001]);
        assert_eq!(out, vec![(1, 1000), (2, 90_000), (3, 90_001)]);
        assert_eq!((c.jumps, c.steps), (0, 1));
        let (out, c) = run(&[1000, 1001, 90_000]);
        assert_eq!(out.last(), Some(&(3, 90_000)));
        assert_eq!((c.jumps, c.steps), (0, 1));
        // A sparse capture: one packet an hour is time passing.
        let (out, c) = run(&[0, 3600, 7200, 10_800, 14_400, 18_000, 21_600]);
        assert!(out.iter().all(|&(n, t)| t == (n as i64 - 1) * 3600), "{out:?}");
        assert_eq!(c.jumps, 0);
    }

    #[test]
    fn two_glitches_in_a_row_and_small_reordering() {
        let (out, c) = run(&[1000, 999, 5_000_000, 7_000_000, 1001]);
        assert_eq!(out, vec![(1, 1000), (2, 999), (3, 1000), (4, 1000), (5, 1001)]);
        assert_eq!(c.jumps, 2);
        assert_eq!(c.spans[0].backwards, 1);
    }
}
