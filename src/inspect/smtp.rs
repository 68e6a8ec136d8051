//! SMTP inspector: the greeting, the EHLO answer and what the client did
//! with it, read from the first bytes of each direction.
//!
//! Recognised by content, not port: a 220 (or 421/554) greeting from the
//! server and, once the client has said anything, EHLO/HELO (or any SMTP verb
//! when the greeting itself says SMTP). Server replies and client commands are
//! paired in order (pipelining keeps the order), AUTH challenges (334) consume
//! one client line each, DATA bodies and BDAT chunks are skipped, and parsing
//! stops where TLS starts (STARTTLS / X-ANONYMOUSTLS answered 220).
//!
//! Secrets never leave: AUTH responses, addresses and message bytes are
//! consumed and dropped; only verbs, mechanism names and counts are kept.
//!
//! Wire-alteration signatures (DOMAIN.md G1): a greeting made of `*` runs
//! (Cisco ASA/PIX ESMTP inspection masks all but `220` and a few digits) and
//! EHLO keywords or client verbs rewritten as runs of `X` (`250-XXXXXXXA`).

use super::{is_false, is_zero};
use super::{Parsed, Streams};
use serde::Serialize;

/// Longest line read (RFC 5321 text line, CRLF included).
pub const MAX_LINE: usize = 1000;
/// Longest banner kept, in characters.
pub const MAX_BANNER: usize = 120;
/// Most EHLO keywords kept.
pub const MAX_CAPABILITIES: usize = 32;
/// Most AUTH mechanisms kept.
pub const MAX_MECHANISMS: usize = 16;
/// Most rejected commands listed.
pub const MAX_REJECTIONS: usize = 8;
/// Most unusual reply codes listed.
pub const MAX_UNUSUAL_CODES: usize = 8;
/// Longest keyword, verb or mechanism name kept.
pub const MAX_TOKEN: usize = 32;

/// What the first bytes of an SMTP session say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SmtpFacts {
    /// Code of the greeting (220, or 421/554 for a refusal).
    pub greeting_code: u16,
    /// The greeting's first line after the code: printable ASCII, truncated.
    pub banner: String,
    /// The greeting is runs of `*` (firewall SMTP inspection masking it).
    #[serde(skip_serializing_if = "is_false")]
    pub banner_masked: bool,
    /// The client said EHLO.
    #[serde(skip_serializing_if = "is_false")]
    pub ehlo: bool,
    /// The client said HELO.
    #[serde(skip_serializing_if = "is_false")]
    pub helo: bool,
    /// EHLO keywords of the server's 250 answer, upper case, in order,
    /// unknown and masked ones included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// How many EHLO answer lines were runs of `X` (masked keywords).
    #[serde(skip_serializing_if = "is_zero")]
    pub capabilities_masked: u32,
    /// The EHLO answer offers STARTTLS.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_offered: bool,
    /// The EHLO answer offers X-ANONYMOUSTLS (Exchange anonymous TLS).
    #[serde(skip_serializing_if = "is_false")]
    pub x_anonymoustls: bool,
    /// The EHLO answer offers X-EXPS (Exchange server authentication).
    #[serde(skip_serializing_if = "is_false")]
    pub x_exps: bool,
    /// The EHLO answer offers XEXCH50.
    #[serde(skip_serializing_if = "is_false")]
    pub xexch50: bool,
    /// The EHLO answer offers CHUNKING (BDAT).
    #[serde(skip_serializing_if = "is_false")]
    pub chunking: bool,
    /// AUTH mechanisms offered in the EHLO answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_mechanisms: Vec<String>,
    /// The client sent STARTTLS or X-ANONYMOUSTLS.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_requested: bool,
    /// TLS started: the server answered STARTTLS / X-ANONYMOUSTLS with 220
    /// (or, with the answer not captured, the client went on with a TLS
    /// record). Nothing after that is parsed.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls: bool,
    /// TLS was started with X-ANONYMOUSTLS rather than STARTTLS.
    #[serde(skip_serializing_if = "is_false")]
    pub x_anonymoustls_used: bool,
    /// The client sent AUTH before any TLS: credentials in clear.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_before_tls: bool,
    /// Mechanism of the client's (first) AUTH command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_mechanism_used: Option<String>,
    /// The server answered the AUTH exchange with 235.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_succeeded: bool,
    /// The client sent MAIL FROM.
    #[serde(skip_serializing_if = "is_false")]
    pub mail_from_seen: bool,
    /// How many RCPT TO commands the client sent (never the addresses).
    #[serde(skip_serializing_if = "is_zero")]
    pub rcpt_count: u32,
    /// The client sent DATA.
    #[serde(skip_serializing_if = "is_false")]
    pub data: bool,
    /// The client sent BDAT.
    #[serde(skip_serializing_if = "is_false")]
    pub bdat: bool,
    /// Client commands read.
    #[serde(skip_serializing_if = "is_zero")]
    pub commands: u32,
    /// Client verbs that are runs of `X` (rewritten by a middlebox).
    #[serde(skip_serializing_if = "is_zero")]
    pub commands_masked: u32,
    /// Client verbs that are not SMTP verbs this inspector knows.
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_commands: u32,
    /// Server replies with a 4xx code (greeting included).
    #[serde(skip_serializing_if = "is_zero")]
    pub replies_4xx: u32,
    /// Server replies with a 5xx code (greeting included).
    #[serde(skip_serializing_if = "is_zero")]
    pub replies_5xx: u32,
    /// The first commands answered 4xx/5xx, with the code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<SmtpRejection>,
    /// Reply codes outside those RFC 5321/4954/7504 define (reported, kept).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unusual_codes: Vec<u16>,
    /// The server stream stopped being SMTP replies (before any TLS).
    #[serde(skip_serializing_if = "is_false")]
    pub malformed_reply: bool,
}

/// A command the server refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SmtpRejection {
    /// The verb (a known SMTP verb, a masked run of `X`, or `OTHER`).
    pub command: String,
    /// The reply code.
    pub code: u16,
}

/// SMTP facts from the first bytes of both directions, or `None` when the
/// streams are not SMTP. Which product the banner names is the classifier's
/// business (`rules/markers.toml`), not the inspector's.
pub fn inspect_smtp(s: &Streams) -> Option<SmtpFacts> {
    wire::inspect(s)
}

/// Byte-level helpers shared by the mail inspectors.
#[deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]
pub(super) mod text {
    use super::Parsed;

    /// One line of at most `max` bytes (LF included) from the start of
    /// `buf`, without its CRLF or bare LF. `Invalid` when no LF comes within
    /// `max` bytes.
    pub fn parse_line(buf: &[u8], max: usize) -> Parsed<&[u8]> {
        let window = buf.get(..max).unwrap_or(buf);
        match window.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let line = window.get(..lf).unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                match lf.checked_add(1) {
                    Some(used) => Parsed::Done(line, used),
                    None => Parsed::Invalid,
                }
            }
            None if buf.len() >= max => Parsed::Invalid,
            None => Parsed::NeedMore,
        }
    }

    /// A read position over one direction's bytes.
    #[derive(Debug, Clone, Copy)]
    pub struct Cursor<'a> {
        buf: &'a [u8],
        pos: usize,
    }

    impl<'a> Cursor<'a> {
        pub fn new(buf: &'a [u8]) -> Self {
            Cursor { buf, pos: 0 }
        }

        /// The bytes not read yet.
        pub fn rest(&self) -> &'a [u8] {
            self.buf.get(self.pos..).unwrap_or_default()
        }

        /// The next line, without moving.
        pub fn peek_line(&self, max: usize) -> Parsed<&'a [u8]> {
            parse_line(self.rest(), max)
        }

        /// The next complete line (moving past it), or `None`.
        pub fn next_line(&mut self, max: usize) -> Option<&'a [u8]> {
            match self.peek_line(max) {
                Parsed::Done(line, used) => {
                    self.pos = self.pos.checked_add(used)?;
                    Some(line)
                }
                Parsed::NeedMore | Parsed::Invalid => None,
            }
        }

        /// Move `n` bytes on; `false` (not moving) when fewer remain.
        pub fn skip(&mut self, n: usize) -> bool {
            if self.rest().len() < n {
                return false;
            }
            match self.pos.checked_add(n) {
                Some(p) => {
                    self.pos = p;
                    true
                }
                None => false,
            }
        }

        /// The rest starts like a TLS handshake record (type 22, version 3.x).
        pub fn at_tls_record(&self) -> bool {
            self.rest().starts_with(&[0x16, 0x03])
        }
    }

    /// Printable ASCII only (others become `?`, tabs spaces), trimmed, at
    /// most `max` characters.
    pub fn sanitize(b: &[u8], max: usize) -> String {
        let s: String = b
            .iter()
            .map(|&c| match c {
                b'\t' => ' ',
                0x20..=0x7e => char::from(c),
                _ => '?',
            })
            .take(max)
            .collect();
        s.trim().to_string()
    }

    /// A token upper-cased and sanitised.
    pub fn token(b: &[u8]) -> String {
        sanitize(b, super::MAX_TOKEN).to_ascii_uppercase()
    }

    /// Case-insensitive substring test (an empty needle never matches).
    pub fn contains_ci(hay: &[u8], needle: &str) -> bool {
        let n = needle.as_bytes();
        !n.is_empty() && hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    }

    /// The first space-separated word and the rest (leading spaces skipped).
    pub fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
        let line = trim_start(line);
        match line.iter().position(|&b| b == b' ') {
            Some(i) => (
                line.get(..i).unwrap_or_default(),
                trim_start(line.get(i..).unwrap_or_default()),
            ),
            None => (line, &[]),
        }
    }

    pub fn trim_start(b: &[u8]) -> &[u8] {
        let i = b.iter().position(|&c| c != b' ' && c != b'\t');
        match i {
            Some(i) => b.get(i..).unwrap_or_default(),
            None => &[],
        }
    }

    /// Push `item` unless present or the list holds `max` already.
    pub fn push_bounded<T: PartialEq>(list: &mut Vec<T>, item: T, max: usize) {
        if list.len() < max && !list.contains(&item) {
            list.push(item);
        }
    }

    /// A run of `X` standing for a rewritten word: at least four bytes, all
    /// `X` but possibly a last upper-case letter (`XXXXXXXA`).
    pub fn is_masked_word(w: &[u8]) -> bool {
        let (last, body) = match w.split_last() {
            Some(x) => x,
            None => return false,
        };
        w.len() >= 4 && body.iter().all(|&b| b == b'X') && last.is_ascii_uppercase()
    }

    /// A whole line that is a masked word (possibly followed by spaces).
    pub fn is_masked_line(line: &[u8]) -> bool {
        let (w, rest) = split_word(line);
        rest.is_empty() && is_masked_word(w)
    }

    /// A line that could be a SASL response: base64, `=`, `*`, or empty.
    pub fn is_sasl_response(line: &[u8]) -> bool {
        line.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'*'))
    }

    /// A decimal number of at most 10 digits.
    pub fn parse_decimal(b: &[u8]) -> Option<u64> {
        if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(b).ok()?.parse().ok()
    }
}

#[deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]
mod wire {
    use super::text::{
        contains_ci, is_masked_line, is_masked_word, is_sasl_response, parse_decimal, parse_line,
        push_bounded, sanitize, split_word, token, trim_start, Cursor,
    };
    use super::{
        Parsed, SmtpFacts, SmtpRejection, Streams, MAX_BANNER, MAX_CAPABILITIES, MAX_LINE, MAX_MECHANISMS,
        MAX_REJECTIONS, MAX_UNUSUAL_CODES,
    };

    /// Verbs this inspector knows (RFC 5321, 3030, 3207, 4954, and the
    /// Exchange extensions offered in EHLO answers).
    const VERBS: &[&str] = &[
        "EHLO",
        "HELO",
        "MAIL",
        "RCPT",
        "DATA",
        "BDAT",
        "RSET",
        "NOOP",
        "QUIT",
        "VRFY",
        "EXPN",
        "HELP",
        "STARTTLS",
        "AUTH",
        "ETRN",
        "X-ANONYMOUSTLS",
        "X-EXPS",
        "XEXCH50",
        "XSHADOW",
        "XSHADOWREQUEST",
        "XPROXY",
        "XPROXYFROM",
        "XPROXYTO",
        "XSESSIONPARAMS",
    ];

    /// Reply codes of RFC 5321 §4.2.3, RFC 4954 and RFC 7504.
    const KNOWN_CODES: &[u16] = &[
        211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 454, 455, 500, 501, 502,
        503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
    ];

    /// One reply line: code, continued (`-`), text.
    fn parse_reply_line(line: &[u8]) -> Option<(u16, bool, &[u8])> {
        let digits = line.get(..3)?;
        if !matches!(digits.first(), Some(b'1'..=b'5')) {
            return None;
        }
        let code = u16::try_from(parse_decimal(digits)?).ok()?;
        match line.get(3) {
            None => Some((code, false, &[])),
            Some(b' ') => Some((code, false, line.get(4..).unwrap_or_default())),
            Some(b'-') => Some((code, true, line.get(4..).unwrap_or_default())),
            Some(_) => None,
        }
    }

    /// Server replies, read one (possibly multi-line) reply at a time.
    struct Replies<'a> {
        cur: Cursor<'a>,
        malformed: bool,
    }

    impl<'a> Replies<'a> {
        /// The next reply's code; `each` sees every line's text (a line that
        /// is only a masked word, with no code, is passed on as text).
        /// Nothing moves unless a whole reply is there.
        fn next(&mut self, mut each: impl FnMut(&'a [u8])) -> Option<u16> {
            let mut cur = self.cur;
            let mut lines: Vec<&'a [u8]> = Vec::new();
            loop {
                let line = match cur.peek_line(MAX_LINE) {
                    Parsed::Done(line, _) => line,
                    Parsed::NeedMore => return None,
                    Parsed::Invalid => {
                        self.malformed = true;
                        return None;
                    }
                };
                match parse_reply_line(line) {
                    Some((code, more, text)) => {
                        cur.next_line(MAX_LINE)?;
                        push_line(&mut lines, text);
                        if !more {
                            self.cur = cur;
                            lines.into_iter().for_each(&mut each);
                            return Some(code);
                        }
                    }
                    None if is_masked_line(line) => {
                        cur.next_line(MAX_LINE)?;
                        push_line(&mut lines, line);
                    }
                    None => {
                        self.malformed = true;
                        return None;
                    }
                }
            }
        }

        fn next_code(&mut self) -> Option<u16> {
            self.next(|_| ())
        }
    }

    fn push_line<'a>(lines: &mut Vec<&'a [u8]>, line: &'a [u8]) {
        if lines.len() <= MAX_CAPABILITIES {
            lines.push(line);
        }
    }

    /// The greeting is `*` runs, maybe with digits left: Cisco ASA/PIX ESMTP
    /// inspection keeps `220` and masks the rest (heuristic).
    fn is_masked_banner(text: &[u8]) -> bool {
        let mut stars = 0usize;
        let mut other = 0usize;
        for &b in text {
            match b {
                b'*' => stars = stars.saturating_add(1),
                b' ' => {}
                b'0'..=b'9' => other = other.saturating_add(1),
                _ => return false,
            }
        }
        stars >= 4 && stars >= other
    }

    fn verb_label(verb: &[u8]) -> String {
        let t = token(verb);
        if VERBS.contains(&t.as_str()) || is_masked_word(verb) {
            t
        } else {
            "OTHER".to_string()
        }
    }

    fn is_smtp_verb(verb: &[u8]) -> bool {
        VERBS.iter().any(|v| v.as_bytes().eq_ignore_ascii_case(verb))
    }

    fn record(facts: &mut SmtpFacts, verb: &[u8], code: Option<u16>) {
        let Some(code) = code else { return };
        count_code(facts, code);
        if code >= 400 && facts.rejections.len() < MAX_REJECTIONS {
            facts.rejections.push(SmtpRejection {
                command: verb_label(verb),
                code,
            });
        }
    }

    fn count_code(facts: &mut SmtpFacts, code: u16) {
        match code {
            400..=499 => facts.replies_4xx = facts.replies_4xx.saturating_add(1),
            500..=599 => facts.replies_5xx = facts.replies_5xx.saturating_add(1),
            _ => {}
        }
        if !KNOWN_CODES.contains(&code) {
            push_bounded(&mut facts.unusual_codes, code, MAX_UNUSUAL_CODES);
        }
    }

    /// Take the keyword lines of a 250 EHLO answer (the first line is the
    /// server's name).
    fn take_capabilities(facts: &mut SmtpFacts, lines: &[&[u8]]) {
        for line in lines.iter().skip(1) {
            let line = trim_start(line);
            let (kw, params) = split_word(line);
            // Old-style "AUTH=LOGIN PLAIN".
            let (kw, params) = match kw.iter().position(|&b| b == b'=') {
                Some(i) => (
                    kw.get(..i).unwrap_or_default(),
                    line.get(i.saturating_add(1)..).unwrap_or_default(),
                ),
                None => (kw, params),
            };
            if kw.is_empty() {
                continue;
            }
            if is_masked_word(kw) {
                facts.capabilities_masked = facts.capabilities_masked.saturating_add(1);
            }
            let name = token(kw);
            match name.as_str() {
                "STARTTLS" => facts.starttls_offered = true,
                "X-ANONYMOUSTLS" => facts.x_anonymoustls = true,
                "X-EXPS" => facts.x_exps = true,
                "XEXCH50" => facts.xexch50 = true,
                "CHUNKING" => facts.chunking = true,
                "AUTH" => {
                    for m in params.split(|&b| b == b' ').filter(|m| !m.is_empty()) {
                        push_bounded(&mut facts.auth_mechanisms, token(m), MAX_MECHANISMS);
                    }
                }
                _ => {}
            }
            push_bounded(&mut facts.capabilities, name, MAX_CAPABILITIES);
        }
    }

    /// Skip a DATA body up to and including the line ".". `false` when the
    /// end is not in the bytes.
    fn skip_body(cmds: &mut Cursor<'_>) -> bool {
        loop {
            match parse_line(cmds.rest(), usize::MAX) {
                Parsed::Done(line, used) => {
                    if !cmds.skip(used) {
                        return false;
                    }
                    if line == b"." {
                        return true;
                    }
                }
                Parsed::NeedMore | Parsed::Invalid => return false,
            }
        }
    }

    pub(super) fn inspect(s: &Streams) -> Option<SmtpFacts> {
        let mut replies = Replies {
            cur: Cursor::new(s.s2c),
            malformed: false,
        };
        let mut first: &[u8] = &[];
        let mut nth = 0usize;
        let code = replies.next(|t| {
            if nth == 0 {
                first = t;
            }
            nth = nth.saturating_add(1);
        })?;
        if !matches!(code, 220 | 421 | 554) {
            return None;
        }
        let mut facts = SmtpFacts {
            greeting_code: code,
            banner: sanitize(first, MAX_BANNER),
            banner_masked: is_masked_banner(first),
            ..SmtpFacts::default()
        };
        count_code(&mut facts, code);
        let says_smtp = contains_ci(first, "SMTP") || facts.banner_masked;

        let mut cmds = Cursor::new(s.c2s);
        match cmds.peek_line(MAX_LINE) {
            Parsed::Done(line, _) => {
                let (verb, _) = split_word(line);
                let hello = verb.eq_ignore_ascii_case(b"EHLO") || verb.eq_ignore_ascii_case(b"HELO");
                let smtp_verb = says_smtp && is_smtp_verb(verb);
                if !(hello || smtp_verb) {
                    return None;
                }
            }
            Parsed::NeedMore if says_smtp => {}
            Parsed::NeedMore | Parsed::Invalid => return None,
        }
        walk(&mut facts, &mut cmds, &mut replies);
        facts.malformed_reply = replies.malformed;
        Some(facts)
    }

    fn walk(facts: &mut SmtpFacts, cmds: &mut Cursor<'_>, replies: &mut Replies<'_>) {
        while let Some(line) = cmds.next_line(MAX_LINE) {
            let (verb, args) = split_word(line);
            facts.commands = facts.commands.saturating_add(1);
            if is_masked_word(verb) {
                facts.commands_masked = facts.commands_masked.saturating_add(1);
            } else if !is_smtp_verb(verb) {
                facts.unknown_commands = facts.unknown_commands.saturating_add(1);
            }
            let name = token(verb);
            match name.as_str() {
                "EHLO" | "HELO" => {
                    if name == "EHLO" {
                        facts.ehlo = true;
                    } else {
                        facts.helo = true;
                    }
                    let mut lines: Vec<&[u8]> = Vec::new();
                    let code = replies.next(|t| lines.push(t));
                    if code == Some(250) && name == "EHLO" {
                        take_capabilities(facts, &lines);
                    }
                    record(facts, verb, code);
                }
                "AUTH" => {
                    facts.auth_before_tls = true;
                    let (mech, _initial_response) = split_word(args);
                    if facts.auth_mechanism_used.is_none() && !mech.is_empty() {
                        facts.auth_mechanism_used = Some(token(mech));
                    }
                    if !auth_exchange(facts, verb, cmds, replies) {
                        return;
                    }
                }
                "DATA" => {
                    facts.data = true;
                    let code = replies.next_code();
                    record(facts, verb, code);
                    // Without the answer, assume the body follows (354).
                    if code.is_none() || code == Some(354) {
                        if !skip_body(cmds) {
                            return;
                        }
                        let code = replies.next_code();
                        record(facts, verb, code);
                    }
                }
                "BDAT" => {
                    facts.bdat = true;
                    let (size, _) = split_word(args);
                    let Some(size) = parse_decimal(size).and_then(|n| usize::try_from(n).ok()) else {
                        return;
                    };
                    if !cmds.skip(size) {
                        return;
                    }
                    let code = replies.next_code();
                    record(facts, verb, code);
                }
                "STARTTLS" | "X-ANONYMOUSTLS" => {
                    facts.starttls_requested = true;
                    let code = replies.next_code();
                    record(facts, verb, code);
                    let started = match code {
                        Some(c) => c == 220,
                        None => cmds.at_tls_record(),
                    };
                    if started {
                        facts.starttls = true;
                        facts.x_anonymoustls_used = name == "X-ANONYMOUSTLS";
                        return;
                    }
                    if code.is_none() {
                        return;
                    }
                }
                "MAIL" => {
                    facts.mail_from_seen = true;
                    let code = replies.next_code();
                    record(facts, verb, code);
                }
                "RCPT" => {
                    facts.rcpt_count = facts.rcpt_count.saturating_add(1);
                    let code = replies.next_code();
                    record(facts, verb, code);
                }
                "QUIT" => {
                    let code = replies.next_code();
                    record(facts, verb, code);
                    return;
                }
                _ => {
                    let code = replies.next_code();
                    record(facts, verb, code);
                }
            }
        }
    }

    /// The rest of an AUTH exchange: each 334 challenge takes one client
    /// line (dropped unread). `false` when the client's bytes ran out.
    fn auth_exchange(
        facts: &mut SmtpFacts,
        verb: &[u8],
        cmds: &mut Cursor<'_>,
        replies: &mut Replies<'_>,
    ) -> bool {
        loop {
            match replies.next_code() {
                Some(334) => {
                    if cmds.next_line(MAX_LINE).is_none() {
                        return false;
                    }
                }
                Some(code) => {
                    facts.auth_succeeded = code == 235;
                    record(facts, verb, Some(code));
                    return true;
                }
                None => {
                    // Answers not captured: drop what looks like SASL
                    // responses rather than read them as commands.
                    while let Parsed::Done(line, _) = cmds.peek_line(MAX_LINE) {
                        let (w, _) = split_word(line);
                        if !is_sasl_response(line) || is_smtp_verb(w) {
                            break;
                        }
                        if cmds.next_line(MAX_LINE).is_none() {
                            return false;
                        }
                    }
                    return true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2).expect("hex pair"), 16).expect("hex"))
            .collect()
    }

    fn run(c2s: &[u8], s2c: &[u8]) -> Option<SmtpFacts> {
        inspect_smtp(&Streams { c2s, s2c })
    }

    fn fixture(c2s: &str, s2c: &str) -> (Vec<u8>, Vec<u8>) {
        (hex(c2s), hex(s2c))
    }

    // Real bytes, taken with `tshark -r F -q -z follow,tcp,raw,0` from
    // /work/shared/captures/public/ (see SOURCES.md there).
    /// zeek smtp-multi-addr.pcap, server to client: "Microsoft ESMTP MAIL Service" banner, EHLO answer with X-ANONYMOUSTLS, XEXCH50, CHUNKING.
    const EXCHANGE_BANNER_S2C: &str = concat!(
        "323230206365726e6d786c62342e6365726e2e6368204d6963726f736f66742045534d5450204d41494c205365727669",
        "6365207265616479206174205475652c20382044656320323031352032323a33313a3032202b303130300d0a3235302d",
        "6365726e6d786c62342e6365726e2e63682048656c6c6f205b3138382e3138342e3132392e3135375d0d0a3235302d53",
        "495a452035323432383830300d0a3235302d504950454c494e494e470d0a3235302d44534e0d0a3235302d454e48414e",
        "434544535441545553434f4445530d0a3235302d5354415254544c530d0a3235302d582d414e4f4e594d4f5553544c53",
        "0d0a3235302d415554480d0a3235302d582d45585053204e544c4d0d0a3235302d384249544d494d450d0a3235302d42",
        "494e4152594d494d450d0a3235302d4348554e4b494e470d0a3235302d584558434835300d0a3235302058534841444f",
        "570d0a32353020322e312e302053656e646572204f4b0d0a32353020322e312e3520526563697069656e74204f4b0d0a",
        "333534205374617274206d61696c20696e7075743b20656e642077697468203c43524c463e2e3c43524c463e0d0a3235",
        "3020322e362e30203c3230313531323038323133302e7442384c5530767330313436323940677261732d6f732d646573",
        "6b2e6365726e2e63683e205b496e7465726e616c49643d39373737393632355d20517565756564206d61696c20666f72",
        "2064656c69766572790d0a34353120342e372e302054696d656f75742077616974696e6720666f7220636c69656e7420",
        "696e7075740d0a",
    );
    /// zeek smtp-multi-addr.pcap, client to server: EHLO, MAIL, RCPT, DATA, message, ".".
    const EXCHANGE_BANNER_C2S: &str = concat!(
        "45484c4f20677261732d6f732d6465736b2e6365726e2e63680d0a4d41494c2046726f6d3a3c726f6f7440677261732d",
        "6f732d6465736b2e6365726e2e63683e2053495a453d3639350d0a5243505420546f3a3c6a616e2e67726173686f6665",
        "72406365726e2e63683e0d0a444154410d0a52656365697665643a2066726f6d20677261732d6f732d6465736b2e6365",
        "726e2e636820286c6f63616c686f7374205b3132372e302e302e315d290d0a09627920677261732d6f732d6465736b2e",
        "6365726e2e63682028382e31342e372f382e31342e372920776974682045534d5450206964207442384c553173553031",
        "343633303b0d0a095475652c20382044656320323031352032323a33303a3031202b303130300d0a5265636569766564",
        "3a202866726f6d20726f6f74406c6f63616c686f7374290d0a09627920677261732d6f732d6465736b2e6365726e2e63",
        "682028382e31342e372f382e31342e372f5375626d697429206964207442384c553076733031343632393b0d0a095475",
        "652c20382044656320323031352032323a33303a3030202b303130300d0a446174653a205475652c2038204465632032",
        "3031352032323a33303a3030202b303130300d0a4d6573736167652d49643a203c3230313531323038323133302e7442",
        "384c5530767330313436323940677261732d6f732d6465736b2e6365726e2e63683e0d0a546f3a20224a616e20477261",
        "73686f6566657222203c6a616e2e67726173686f6566657240676d61696c2e636f6d3e2c0d0a20202020202020202254",
        "6573742047726f7570223a616464722d73706563406578616d706c652e636f6d2c203c616e676c652d61646472406578",
        "616d706c652e636f6d3e2c0d0a20202020202020202254657374204d656d62657222203c6e616d652d61646472406578",
        "616d706c652e636f6d3e3b2c206a616e2e67726173686f666572406365726e2e63680d0a46726f6d3a206a616e2e6772",
        "6173686f65666572406365726e2e636820284a616e2047726173686f65666572290d0a5375626a6563743a2054657374",
        "6d61696c0d0a0d0a5468697320697320612074657374206d61696c2e0d0a2e0d0a",
    );
    /// zeek tls/smtp-starttls.pcap, server to client: banner, EHLO answer, "220 2.0.0 Ready to start TLS", then the first 48 bytes of the TLS ServerHello.
    const GMAIL_STARTTLS_S2C: &str = concat!(
        "323230206d782e676f6f676c652e636f6d2045534d545020686631307369343039373239396963632e313930202d2067",
        "736d74700d0a3235302d6d782e676f6f676c652e636f6d20617420796f757220736572766963652c205b3139322e3135",
        "302e3138372e3233375d0d0a3235302d53495a452033353838323537370d0a3235302d384249544d494d450d0a323530",
        "2d5354415254544c530d0a3235302d454e48414e434544535441545553434f4445530d0a323530204348554e4b494e47",
        "0d0a32323020322e302e3020526561647920746f20737461727420544c530d0a160303003d0200003903035374dfcd4d",
        "5aaaebca88bf70ff8bef9b174ab07e04b0ccf4903f1995828ff50c00c02f0000",
    );
    /// zeek tls/smtp-starttls.pcap, client to server: EHLO, STARTTLS, then the first 48 bytes of the TLS ClientHello.
    const GMAIL_STARTTLS_C2S: &str = concat!(
        "45484c4f206f70656e73736c2e636c69656e742e6e65740d0a5354415254544c530d0a1603010200010001fc0303bbb4",
        "b8067f980d5e7b68213b9af8934a8499a7e74ba0be44eef953cd3300cdb60000a0c030",
    );
    /// nDPI smtp-starttls.pcap (first session), server to client, up to and 48 bytes past "220 2.0.0 Ready to start TLS".
    const NDPI_STARTTLS_S2C: &str = concat!(
        "323230206d782e676f6f676c652e636f6d2045534d54502073347369393639363335387163632e3633202d2067736d74",
        "700d0a3235302d6d782e676f6f676c652e636f6d20617420796f757220736572766963652c205b31302e3030302e3030",
        "302e30315d0d0a3235302d53495a452033353838323537370d0a3235302d384249544d494d450d0a3235302d53544152",
        "54544c530d0a3235302d454e48414e434544535441545553434f4445530d0a3235302d504950454c494e494e470d0a32",
        "3530204348554e4b494e470d0a32323020322e302e3020526561647920746f20737461727420544c530d0a1603010035",
        "02000031030152bb75e4011709be91579d37359d812e88796903517fd14be241a133cdc556470000050000",
    );
    /// nDPI smtp-starttls.pcap (first session), client to server: EHLO, STARTTLS, 48 bytes of ClientHello.
    const NDPI_STARTTLS_C2S: &str = concat!(
        "45484c4f20787878787878787878787878782e7878782e636f6d0d0a5354415254544c530d0a160301006b0100006703",
        "0152bb75e44e872de2ee0fb3d4bb5ba46ef845fb548e37525b9523bb8ef8036add00003a0039",
    );
    /// suricata-verify smtp-raw-extraction (tcp/587), server to client: AUTH LOGIN offered, 334 challenges, 235, message accepted.
    const AUTH_LOGIN_S2C: &str = concat!(
        "32323020736d74703030312e6d61696c2e7878782e78787878782e636f6d2045534d54500d0a3235302d736d74703030",
        "312e6d61696c2e7878782e78787878782e636f6d0d0a3235302d41555448204c4f47494e20504c41494e2058594d434f",
        "4f4b49450d0a3235302d504950454c494e494e470d0a32353020384249544d494d450d0a3333342056584e6c636d3568",
        "625755360d0a333334205547467a63336476636d51360d0a323335206f6b2c20676f206168656164202823322e302e30",
        "290d0a323530206f6b0d0a323530206f6b0d0a33353420676f2061686561640d0a323530206f6b203131383434303139",
        "32392071702032363231310d0a32323120736d74703030312e6d61696c2e7878782e78787878782e636f6d0d0a",
    );
    /// suricata-verify smtp-raw-extraction (tcp/587), client to server: EHLO, AUTH LOGIN with base64 user and password in clear, MAIL, RCPT, DATA and the first bytes of the message.
    const AUTH_LOGIN_C2S: &str = concat!(
        "45484c4f20506572636976616c0d0a41555448204c4f47494e0d0a5a324673645735300d0a566a46324d5852794d4734",
        "3d0d0a4d41494c2046524f4d3a203c7878787878784078787878782e636f2e756b3e0d0a5243505420544f3a203c7878",
        "787878784078787878782e636f2e756b3e0d0a444154410d0a5265706c792d546f3a203c787878787878407878787878",
        "2e636f2e756b3e0d0a46726f6d3a2022587878787878207878787822203c7878787878784078787878782e636f2e756b",
        "3e0d0a546f3a203c7878787878784078787878782e636f2e756b3e0d0a5375626a6563743a2054657374696e67207465",
        "73",
    );
    /// zeek smtp/rfc3030-bdat-multipart.pcap, server to client: Postfix banner, EHLO answer with CHUNKING, replies.
    const BDAT_S2C: &str = concat!(
        "323230206578616d706c652e636f6d2045534d545020506f7374666978202844656269616e2f474e55290d0a3235302d",
        "6578616d706c652e636f6d0d0a3235302d504950454c494e494e470d0a3235302d53495a452031303234303030300d0a",
        "3235302d4554524e0d0a3235302d5354415254544c530d0a3235302d454e48414e434544535441545553434f4445530d",
        "0a3235302d384249544d494d450d0a3235302d44534e0d0a3235302d534d5450555446380d0a323530204348554e4b49",
        "4e470d0a32353020322e312e30204f6b0d0a32353020322e312e35204f6b0d0a32353020322e302e30204f6b3a203334",
        "3632206279746573207175657565642061732030373737383143413032350d0a32323120322e302e30204279650d0a",
    );
    /// zeek smtp/rfc3030-bdat-multipart.pcap, client to server: EHLO, MAIL, RCPT, "BDAT 3460 LAST" with its 3460-byte chunk, QUIT.
    const BDAT_C2S: &str = concat!(
        "45484c4f206c6f63616c686f73740d0a4d41494c2046524f4d3a3c7a65656b406c6f63616c686f73743e0d0a52435054",
        "20544f3a3c726f6f74406c6f63616c686f73743e0d0a424441542033343630204c4153540d0a4d494d452d5665727369",
        "6f6e3a20312e300d0a446174653a205475652c2031322044656320323032332031373a33373a3136202b303130300d0a",
        "4d6573736167652d49443a203c434144736d6479574b706265394e5673683239566b624d43525a526658555558482b33",
        "3136764b4667444748744a78776f4177406d61696c2e676d61696c2e636f6d3e0d0a5375626a6563743a205a65656b20",
        "4c6f676f0d0a46726f6d3a2041726e652057656c7a656c203c61726e652e77656c7a656c40636f72656c696768742e63",
        "6f6d3e0d0a546f3a2041726e652057656c7a656c203c61726e652e77656c7a656c40636f72656c696768742e636f6d3e",
        "0d0a436f6e74656e742d547970653a206d756c7469706172742f6d697865643b20626f756e646172793d223030303030",
        "3030303030303064343561346130363063353261393532220d0a0d0a2d2d303030303030303030303030643435613461",
        "303630633532613935320d0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d2255",
        "54462d38220d0a0d0a54686973206973205a65656b2773206c6f676f2e0d0a0d0a486176652066756e210d0a0d0a2d2d",
        "303030303030303030303030643435613461303630633532613935320d0a436f6e74656e742d547970653a20696d6167",
        "652f706e673b206e616d653d227a65656b2d6c6f676f2e706e67220d0a436f6e74656e742d446973706f736974696f6e",
        "3a206174746163686d656e743b2066696c656e616d653d227a65656b2d6c6f676f2e706e67220d0a436f6e74656e742d",
        "5472616e736665722d456e636f64696e673a206261736536340d0a582d4174746163686d656e742d49643a20665f6c71",
        "326b66336830300d0a436f6e74656e742d49443a203c665f6c71326b66336830303e0d0a0d0a6956424f5277304b4767",
        "6f414141414e5355684555674141414e49414141444a43414d41414142685670776f414141414358424957584d414141",
        "73534141414c4567485333583738414141410d0a7146424d564556486345774141414141414141414141414141414141",
        "414141414141414141414141732b73414141414141414141732b73414141414141414141732b734141414141732b7341",
        "0d0a4141414141414141732b734141414141732b7341732b7341732b7341732b7341732b7341732b7341732b7341732b",
        "7341732b7341732b73417275496f5155595a62483048655a41416c7273410d0a714e6b6d5632494169366f416f633041",
        "736563416a36346a596e4155623449416b3759684c5338416e4d5141722b4d5a6248305545784d44664a514141414141",
        "732b73664b43736c4e4463500d0a4467356852773068414141414d335253546c4d414d474241384b4451774941516750",
        "42776b424467304342514d4c42676f43437763454351554d4467392f5748375a6a757a754c55383644770d0a6e4f684d",
        "37666259784f69486a357661414141476d6b6c4551565234327431643658716b4f4177456a4b4568394147686338396b",
        "5a6e646d37397539752b2f2f5a7076744132794f426953430d0a5a656c584a736e6b533856515a556c6c32664f514957",
        "53634a52366e574b7533694467686b756f594152744153586c437046493269434c46444a4a6649654943795138725245",
        "7177514351300d0a5244776742556f50446f6779785132534e424646374243706d4938637165693448314a72526f6953",
        "4e51645a30755249656c35382f4b4267684d6a627569394c5159336f7550732b665a6a7a0d0a454e676a497439355756",
        "705867454c2f744373362f6d504c515936324a3052653672597356666e652f2b52744c46767076687a4656666b6b646c",
        "6d57744878503170383963586a6d75687a700d0a612b4a7774695161636e5435744c7551616a6b4b6a62315034617773",
        "5a553035756b537162456134426c6435617a6d4b2f4f74353039494256493945747558493548434c3453506c534c6257",
        "0d0a4f62514e5353415274623971665a56796c42783136576e683372766b6438755268736e714f6b554a526f34497157",
        "6e314c6f512b427046505343556c6e4276576d4156655150637a6a4d42530d0a51695375455044414178737238503939",
        "7a386844364e395a6b794e536c645361477159716b70627630576f7367366d686c714f51466949774e52516853664a47",
        "554550514b6d32355467305a0d0a54664a4755454d74527955785a7843554769524e4f554a51513044576e41476d426b",
        "6c546a6a4337426b6e31735a505158554f39764e5177786642694139474d7769756843595642454b51770d0a465a6848",
        "4a36433548536f6946594f724264716d6c56543948765051444e6146484177744163775959704a634d4f6c3776595166",
        "706f674e70717933712b5275454332323476627a595865480d0a74756537662f333532785534586862434e454b674569",
        "4779564d5a7644506e703959434a3357596854454e2b2f5871582b2f634247547361416c556a55743968495233325332",
        "45714f3578440d0a56576939576a5369777a4d4a67564a7a516e70596a766a572f61584b2b72465558394351486b6b49",
        "6c4e61702f516d4c364f5a2b556448744b2f7672687074764847474841594536623570790d0a49644a556676332b4279",
        "66496f59314a7467744b734a2b352b61676875714f53516555495039356d5a3248763049644a49334d457044734e3055",
        "636269486f45436d375858656c6b6432732f0d0a4b367a497649524332757655384551684b37795577314b674f2b6e57",
        "496e33336965365a7a414f596d2f2f327869375a6457654670334c5969635644444e6b39654a616a4956414a534a6973",
        "0d0a3037635a75576b4d6856684d6466712b73592b6f4b56447864474769516439395757486b79386d6c63344f2b587a",
        "77696f516e555a474579794737766b596d6d6933393834667965454833330d0a4374516b59544c6f2b774f7855717a68",
        "65683939475041444c66727546616a78776e526e4c54456668326d72515272583348696b52392b39416a564f6d505948",
        "6d6d54586a576e4d495857440d0a766838396f69456e6d4b6a6f306e6333706d46496c4f6d3755364347393630506c4f",
        "6d375136434739336833314d6e4f79446143624e68515a7041646455536a346f552b66574e4b4453734f0d0a6944614f",
        "30446577654c4c6a674d676c2b68345a7a793752392f525377784d4852452b383666755a41364c706a62343854556b50",
        "784a6a653641756f477a556e4e2f7153734d3848347978390d0a432b4a4754514239433970475455696a4c7964743149",
        "51312b705361597453305348626a47333136625a446153514a676f382b59694548724a4147303056634347794c76482b",
        "42475836504c0d0a512b636b41627a526c2b476e6f35436862304f596f6f67594a6b796c32442b337179517067634c35",
        "4e433774716a556c544c68475831575044756749464c4c52562f736f416972483937434e0d0a507333677037564f6263",
        "35765154663655673243316a71314a3772345270387832375a7a72716f373948324f776a41646445322f745566667745",
        "5a6630365974375237666d364e536e4453370d0a69716c4e675a7248703948713041663273734b5a476e315271353164",
        "32424b6f462b51706b74632f2f697a54744242526d375148706b4d7551742b772b4f336650757459627556382b51352f",
        "0d0a79757a776c315a4d615a424774487857654473446f7350762f6461785a506e7a3555397a514470636d7a47374f4b",
        "625a496556586376686c4247707a4d774f69583634375335632b4d2f38340d0a4136522f426a68673651456f4b797967",
        "313039714737394a6b7843392f70326c4d64337656346a3438624d5938645a546e65714a43655a445857493241314457",
        "444965366b423376696345550d0a38687671346f643065345667544e745a424972554769637a584d497159685653476f",
        "576c6c634f41416b5877526b506b314c464167633750766d2b6b47494771474961715145312b6e3549740d0a30647442",
        "713750596b332b78474858707a424b6147344f6f6761426442507a6742565233382b44396130554e3147344f426f384a",
        "723667684a446f43667672545135516145766974465553700d0a41564658435767574c775238704c45666b7452595249",
        "32796f6f59744b5772517071394f486745666b3079484d66562b6b7453515948494b6b7453414b6b3253704159666b35",
        "2b5470415a630d0a6d642f7166583968397849557146715833567462753939665a4d764d2b6e3267312f374b734c7178",
        "4967634a3358366d746b72616e583751486b7867475645386f78785637424a626972426a0d0a4c69494a52796738746d",
        "3068646630716b6661765473677844747645746677327a743936494a725470365472694336335358664a5565346d4974",
        "4d6e336a4f6c32456c495a36724f4c54674c0d0a3577393971484c50784738334952566d61597663765973415752494d",
        "354b6742795368744f65357471475971757939484a7152597377413437784d365057346c427a6e7171336b77384e7956",
        "0d0a304b6d393147574a6c6464546e2f6641354f7049666f6879786536574f384876337237432b58797652326b353261",
        "557637784b666d307139637a4e56657178437a44424d376a2b49426461430d0a6b703757765141414141424a52553545",
        "726b4a6767673d3d0d0a2d2d303030303030303030303030643435613461303630633532613935322d2d515549540d0a",
    );
    /// suricata-verify smtp-to-comma (readable part), server to client: Sendmail, 553 on MAIL, 503 on RCPT and DATA, RSET, accepted retry, 354.
    const REJECTED_S2C: &str = concat!(
        "323230207475783331392e6c6f67696e7365727665722e63682045534d54502053656e646d61696c20382e31342e392f",
        "382e31322e31313b204d6f6e2c203239204a756c20323031392031393a30313a3436202b303230300d0a3235302d7475",
        "783331392e6c6f67696e7365727665722e63682048656c6c6f203137332d36362d34362d3131322e776173682e66696f",
        "732e766572697a6f6e2e6e6574205b3137332e36362e34362e3131325d2c20706c656173656420746f206d6565742079",
        "6f750d0a3235302d454e48414e434544535441545553434f4445530d0a3235302d504950454c494e494e470d0a323530",
        "2d384249544d494d450d0a3235302d53495a452035323433303030300d0a3235302d44534e0d0a3235302d4155544820",
        "4c4f47494e20504c41494e0d0a3235302d5354415254544c530d0a3235302d44454c4956455242590d0a323530204845",
        "4c500d0a35353320352e312e38203c73706c6f746368696573747a67304067657a79646230312e617069732e64686c2e",
        "636f6d3e2e2e2e20446f6d61696e206f662073656e64657220616464726573732073706c6f746368696573747a673040",
        "67657a79646230312e617069732e64686c2e636f6d20646f6573206e6f742065786973740d0a35303320352e302e3020",
        "4e656564204d41494c206265666f726520524350540d0a35303320352e302e30204e656564204d41494c20636f6d6d61",
        "6e640d0a32353020322e302e302052657365742073746174650d0a32353020322e312e30203c7570726f6f7465647833",
        "38406761746577617932632e64686c2e636f6d3e2e2e2e2053656e646572206f6b0d0a32353020322e312e35203c6d69",
        "726a616d40616272616b6164616272612e63683e2e2e2e20526563697069656e74206f6b0d0a33353420456e74657220",
        "6d61696c2c20656e64207769746820222e22206f6e2061206c696e6520627920697473656c660d0a",
    );
    /// suricata-verify smtp-to-comma, client to server: EHLO, rejected MAIL/RCPT/DATA, RSET, retry, DATA, start of message.
    const REJECTED_C2S: &str = concat!(
        "45484c4f203137332d36362d34362d3131322e776173682e66696f732e766572697a6f6e2e6e65740d0a4d41494c2046",
        "524f4d3a203c73706c6f746368696573747a67304067657a79646230312e617069732e64686c2e636f6d3e200d0a5243",
        "505420544f3a3c6d69726a616d40616272616b6164616272612e63683e0d0a444154410d0a525345540d0a4d41494c20",
        "46524f4d3a203c7570726f6f746564783338406761746577617932632e64686c2e636f6d3e200d0a5243505420544f3a",
        "3c6d69726a616d40616272616b6164616272612e63683e0d0a444154410d0a52656365697665643a2066726f6d205b36",
        "352e3230312e3231382e33305d202868656c6f3d434f5a4f584f52592e636c7562290d0a096279203137332d36362d34",
        "362d3131322e776173682e66696f73",
    );
    /// SYNTHETIC (no public capture exists): an Exchange-to-Exchange session
    /// through a Cisco ASA with ESMTP inspection, built from DOMAIN.md §1:
    /// banner masked with `*` (the ASA keeps `220` and a few digits),
    /// STARTTLS, X-ANONYMOUSTLS, X-EXPS and XEXCH50 in the EHLO answer
    /// rewritten as runs of `X`, one of them a bare line without code, and
    /// the client's X-ANONYMOUSTLS rewritten too (answered 500).
    const ASA_MASKED_S2C: &[u8] = b"220 ****************************************2***0*0****0***0*0\r\n\
250-mbx01 Hello [10.0.0.5]\r\n\
250-SIZE 37748736\r\n\
250-PIPELINING\r\n\
250-DSN\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-XXXXXXXA\r\n\
250-XXXXXXXXXXXXXX\r\n\
XXXXXXXXXXXXX\r\n\
250-AUTH\r\n\
250-8BITMIME\r\n\
250-BINARYMIME\r\n\
250-XXXXXXXB\r\n\
250 XXXXXXXC\r\n\
500 5.3.3 Unrecognized command\r\n\
250 2.1.0 Sender OK\r\n";
    const ASA_MASKED_C2S: &[u8] = b"EHLO mbx02.example.test\r\n\
XXXXXXXXXXXXXX\r\n\
MAIL FROM:<a@example.test>\r\n";

    #[test]
    fn golden_exchange_banner() {
        let (c, s) = fixture(EXCHANGE_BANNER_C2S, EXCHANGE_BANNER_S2C);
        let f = run(&c, &s).expect("smtp");
        assert_eq!(f.greeting_code, 220);
        assert!(f.banner.contains("Microsoft ESMTP MAIL Service"), "{}", f.banner);
        assert!(f.banner.contains("Microsoft ESMTP MAIL Service"), "{}", f.banner);
        assert!(!f.banner_masked);
        assert!(f.ehlo && !f.helo);
        assert!(f.starttls_offered && f.x_anonymoustls && f.xexch50 && f.x_exps);
        assert!(f.chunking);
        assert_eq!(
            f.capabilities,
            [
                "SIZE",
                "PIPELINING",
                "DSN",
                "ENHANCEDSTATUSCODES",
                "STARTTLS",
                "X-ANONYMOUSTLS",
                "AUTH",
                "X-EXPS",
                "8BITMIME",
                "BINARYMIME",
                "CHUNKING",
                "XEXCH50",
                "XSHADOW"
            ]
        );
        assert!(f.auth_mechanisms.is_empty());
        assert_eq!(f.capabilities_masked, 0);
        assert!(!f.starttls_requested && !f.starttls && !f.auth_before_tls);
        assert!(f.mail_from_seen && f.data);
        assert_eq!(f.rcpt_count, 1);
        assert_eq!(f.commands, 4);
        // The final 451 timeout is an unsolicited reply with no command.
        assert!(f.rejections.is_empty());
        assert!(!f.malformed_reply);
    }

    #[test]
    fn golden_starttls_zeek() {
        let (c, s) = fixture(GMAIL_STARTTLS_C2S, GMAIL_STARTTLS_S2C);
        let f = run(&c, &s).expect("smtp");
        assert!(f.banner.starts_with("mx.google.com ESMTP"));
        assert!(f.starttls_offered && f.starttls_requested && f.starttls);
        assert!(!f.x_anonymoustls_used);
        assert!(f.chunking);
        assert_eq!(f.commands, 2);
        assert!(!f.malformed_reply, "TLS bytes after 220 are not read");
    }

    #[test]
    fn golden_starttls_ndpi() {
        let (c, s) = fixture(NDPI_STARTTLS_C2S, NDPI_STARTTLS_S2C);
        let f = run(&c, &s).expect("smtp");
        assert!(f.starttls && f.starttls_offered);
        assert!(f.capabilities.iter().any(|c| c == "PIPELINING"));
        assert!(!f.auth_before_tls);
    }

    #[test]
    fn starttls_answer_not_captured_but_client_sends_tls() {
        let (c, s) = fixture(GMAIL_STARTTLS_C2S, GMAIL_STARTTLS_S2C);
        let cut = s.windows(5).position(|w| w == b"220 2").expect("STARTTLS answer");
        let f = run(&c, &s[..cut]).expect("smtp");
        assert!(f.starttls, "ClientHello after STARTTLS means TLS started");
    }

    #[test]
    fn golden_auth_login_in_clear() {
        let (c, s) = fixture(AUTH_LOGIN_C2S, AUTH_LOGIN_S2C);
        let f = run(&c, &s).expect("smtp");
        assert_eq!(f.auth_mechanisms, ["LOGIN", "PLAIN", "XYMCOOKIE"]);
        assert!(!f.starttls_offered);
        assert!(f.auth_before_tls);
        assert_eq!(f.auth_mechanism_used.as_deref(), Some("LOGIN"));
        assert!(f.auth_succeeded);
        assert!(f.mail_from_seen && f.data);
        assert_eq!(f.rcpt_count, 1);
        assert_eq!(f.unknown_commands, 0, "credentials were not read as commands");
        assert_eq!(f.commands, 5);
    }

    #[test]
    fn no_credentials_in_any_output() {
        let (c, s) = fixture(AUTH_LOGIN_C2S, AUTH_LOGIN_S2C);
        // The base64 user name and password of the capture.
        assert!(c.windows(8).any(|w| w == b"Z2FsdW50"));
        let greeting = s.iter().position(|&b| b == b'\n').expect("greeting") + 1;
        let ehlo_answer = s.windows(5).position(|w| w == b"334 V").expect("challenge");
        for (cc, ss) in [
            (&c[..], &s[..]),
            (&c[..], &s[..greeting]),
            (&c[..], &s[..ehlo_answer]),
        ] {
            let f = run(cc, ss).expect("smtp");
            let json = serde_json_like(&f);
            for secret in ["Z2FsdW50", "VjF2MXRyMG4", "galunt", "V1v1tr0n"] {
                assert!(!json.contains(secret), "{secret} leaked: {json}");
            }
            assert!(!json.contains('@'), "no address: {json}");
        }
    }

    fn serde_json_like(f: &SmtpFacts) -> String {
        serde_json::to_string(f).expect("serialize")
    }

    #[test]
    fn golden_bdat() {
        let (c, s) = fixture(BDAT_C2S, BDAT_S2C);
        let f = run(&c, &s).expect("smtp");
        assert!(f.banner.contains("Postfix"));
        assert!(f.chunking && f.bdat && !f.data);
        assert!(f.starttls_offered && !f.starttls_requested);
        assert_eq!(f.rcpt_count, 1);
        // EHLO, MAIL, RCPT, BDAT, QUIT: the chunk was skipped, not read.
        assert_eq!(f.commands, 5);
        assert_eq!(f.unknown_commands, 0);
        assert!(f.rejections.is_empty());
    }

    #[test]
    fn golden_rejections() {
        let (c, s) = fixture(REJECTED_C2S, REJECTED_S2C);
        let f = run(&c, &s).expect("smtp");
        assert_eq!(f.replies_5xx, 3);
        let got: Vec<(&str, u16)> = f
            .rejections
            .iter()
            .map(|r| (r.command.as_str(), r.code))
            .collect();
        assert_eq!(got, [("MAIL", 553), ("RCPT", 503), ("DATA", 503)]);
        assert_eq!(f.rcpt_count, 2);
        assert!(f.auth_mechanisms.contains(&"PLAIN".to_string()));
        assert!(f.unusual_codes.is_empty());
    }

    #[test]
    fn synthetic_asa_masking() {
        let f = run(ASA_MASKED_C2S, ASA_MASKED_S2C).expect("smtp");
        assert!(f.banner_masked);
        assert!(f.banner.starts_with("****"));
        assert_eq!(f.capabilities_masked, 5);
        assert!(!f.starttls_offered && !f.x_anonymoustls);
        assert_eq!(f.commands_masked, 1);
        assert_eq!(f.rejections.len(), 1);
        assert_eq!(f.rejections[0].code, 500);
        assert_eq!(f.rejections[0].command, "XXXXXXXXXXXXXX");
        assert!(f.mail_from_seen);
        assert!(!f.malformed_reply);
        // Masked banner and no client bytes yet: still SMTP.
        assert!(run(b"", ASA_MASKED_S2C).is_some_and(|f| f.banner_masked));
    }

    #[test]
    fn unknown_code_and_capability_are_kept() {
        let s =
            b"220 mx ESMTP\r\n250-mx\r\n250-X-FUTURE-THING 7\r\n250 AUTH=NTLM GSSAPI\r\n299 odd but fine\r\n";
        let c = b"EHLO me\r\nNOOP\r\nFROB x\r\n";
        let f = run(c, s).expect("smtp");
        assert_eq!(f.capabilities, ["X-FUTURE-THING", "AUTH"]);
        assert_eq!(f.auth_mechanisms, ["NTLM", "GSSAPI"]);
        assert_eq!(f.unusual_codes, [299]);
        assert_eq!(f.unknown_commands, 1);
        assert_eq!(f.commands, 3);
    }

    #[test]
    fn bare_lf_and_helo() {
        let f = run(
            b"HELO me\nAUTH PLAIN AGZvbwBiYXI=\nQUIT\n",
            b"220 x SMTP\n250 x\n535 no\n221 bye\n",
        )
        .expect("smtp");
        assert!(f.helo && !f.ehlo);
        assert!(f.auth_before_tls && !f.auth_succeeded);
        assert_eq!(f.auth_mechanism_used.as_deref(), Some("PLAIN"));
        assert!(!serde_json_like(&f).contains("AGZvbw"));
        assert_eq!(f.rejections.len(), 1);
    }

    #[test]
    fn not_smtp() {
        assert_eq!(run(b"", b""), None);
        assert_eq!(run(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"), None);
        // FTP greets with 220 too: the client's USER tells them apart.
        assert_eq!(run(b"USER anonymous\r\n", b"220 ProFTPD Server ready\r\n"), None);
        assert_eq!(run(b"", b"220 ProFTPD Server ready\r\n"), None);
        assert_eq!(run(b"\x16\x03\x01\x02\x00", b"\x16\x03\x03\x00\x4a"), None);
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert_eq!(run(&garbage, &garbage), None);
        assert_eq!(run(&[b'2'; 4096], &[b'2'; 4096]), None);
        assert_eq!(run(b"EHLO x\r\n", &[b'X'; 4096]), None);
    }

    #[test]
    fn long_lines_are_bounded() {
        let mut s = b"220 ".to_vec();
        s.extend(std::iter::repeat_n(b'a', 5000));
        assert_eq!(run(b"EHLO x\r\n", &s), None);
        let mut s = b"220 mx ESMTP\r\n250-".to_vec();
        s.extend(std::iter::repeat_n(b'A', 5000));
        let f = run(b"EHLO x\r\n", &s).expect("smtp");
        assert!(f.malformed_reply && f.capabilities.is_empty());
        let mut s = b"220 mx ESMTP\r\n".to_vec();
        for i in 0..100 {
            s.extend(format!("250-CAP{i}\r\n").as_bytes());
        }
        s.extend(b"250 LAST\r\n");
        let f = run(b"EHLO x\r\n", &s).expect("smtp");
        assert_eq!(f.capabilities.len(), MAX_CAPABILITIES);
        assert!(f.banner.len() <= MAX_BANNER);
    }

    fn all_fixtures() -> Vec<(Vec<u8>, Vec<u8>)> {
        vec![
            fixture(EXCHANGE_BANNER_C2S, EXCHANGE_BANNER_S2C),
            fixture(GMAIL_STARTTLS_C2S, GMAIL_STARTTLS_S2C),
            fixture(NDPI_STARTTLS_C2S, NDPI_STARTTLS_S2C),
            fixture(AUTH_LOGIN_C2S, AUTH_LOGIN_S2C),
            fixture(BDAT_C2S, BDAT_S2C),
            fixture(REJECTED_C2S, REJECTED_S2C),
            (ASA_MASKED_C2S.to_vec(), ASA_MASKED_S2C.to_vec()),
        ]
    }

    /// Flags that can only turn on as more bytes arrive.
    fn flags(f: &SmtpFacts) -> [bool; 8] {
        [
            f.ehlo,
            f.starttls_offered,
            f.starttls,
            f.auth_before_tls,
            f.mail_from_seen,
            f.data,
            f.bdat,
            f.banner_masked,
        ]
    }

    #[test]
    fn every_truncated_prefix() {
        for (c, s) in all_fixtures() {
            let full = run(&c, &s).expect("full fixture is smtp");
            let n = c.len().max(s.len());
            let mut prev: Option<SmtpFacts> = None;
            for i in 0..=n {
                let cc = &c[..i.min(c.len())];
                let ss = &s[..i.min(s.len())];
                let f = run(cc, ss);
                // Each direction cut alone, too.
                let _ = run(cc, &s);
                let _ = run(&c, ss);
                if let (Some(p), Some(f)) = (&prev, &f) {
                    for (a, b) in flags(p).iter().zip(flags(f).iter()) {
                        assert!(!a || *b, "a flag went off at prefix {i}: {p:?} -> {f:?}");
                    }
                    assert!(f.commands >= p.commands);
                    assert!(f.rcpt_count >= p.rcpt_count);
                }
                if prev.is_some() {
                    assert!(f.is_some(), "SMTP became not-SMTP at prefix {i}");
                }
                if f.is_some() {
                    prev = f;
                }
            }
            assert_eq!(prev.as_ref(), Some(&full));
        }
    }

    #[test]
    fn every_byte_flipped_never_panics() {
        for (c, s) in all_fixtures() {
            let mut c2 = c.clone();
            let mut s2 = s.clone();
            for i in 0..c2.len().min(600) {
                let old = c2[i];
                c2[i] = b'\n';
                let _ = run(&c2, &s);
                c2[i] = old;
            }
            for i in 0..s2.len().min(600) {
                let old = s2[i];
                s2[i] = b'-';
                let _ = run(&c, &s2);
                s2[i] = old;
            }
        }
    }
}
