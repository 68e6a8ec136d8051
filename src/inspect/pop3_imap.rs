//! POP3 and IMAP4 inspectors: greeting, capabilities, STLS/STARTTLS offered
//! and used, and whether a password went over the wire in clear.
//!
//! Recognised by content, not port: a `+OK` (POP3) or `* OK` / `* PREAUTH` /
//! `* BYE` (IMAP) greeting and, once the client has said anything, a command
//! of that protocol. Parsing stops where TLS starts. User names, passwords
//! and SASL responses are consumed and dropped: the facts say only that a
//! login happened, how, and whether it was accepted.

use super::smtp::text::{
    is_sasl_response, parse_decimal, parse_line, push_bounded, sanitize, split_word, token, Cursor,
};
use super::{is_false, is_zero};
use super::{Parsed, Streams};
use serde::Serialize;

/// Longest line read, CRLF included (RFC 1939 allows 512 for responses;
/// IMAP lines are longer in practice).
pub const MAX_LINE: usize = 2000;
/// Longest greeting kept, in characters.
pub const MAX_GREETING: usize = 120;
/// Most capabilities kept.
pub const MAX_CAPABILITIES: usize = 32;
/// Most SASL mechanisms kept.
pub const MAX_MECHANISMS: usize = 16;
/// Most IMAP responses remembered (for tag lookup).
pub const MAX_RESPONSES: usize = 256;

/// What the first bytes of a POP3 session say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pop3Facts {
    /// The greeting after `+OK`: printable ASCII, truncated.
    pub greeting: String,
    /// CAPA answer keywords, upper case, unknown ones included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// SASL mechanisms of the CAPA answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sasl_mechanisms: Vec<String>,
    /// The CAPA answer offers STLS.
    #[serde(skip_serializing_if = "is_false")]
    pub stls_offered: bool,
    /// The client sent STLS.
    #[serde(skip_serializing_if = "is_false")]
    pub stls_requested: bool,
    /// STLS answered `+OK` (or, answer not captured, the client went on with
    /// a TLS record). Nothing after that is parsed.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_started: bool,
    /// A password went in clear: USER+PASS, APOP, or AUTH PLAIN/LOGIN
    /// before TLS.
    #[serde(skip_serializing_if = "is_false")]
    pub cleartext_login: bool,
    /// How the client logged in: `USER/PASS`, `APOP` or `AUTH <mech>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_mechanism: Option<String>,
    /// The login was answered `+OK`.
    #[serde(skip_serializing_if = "is_false")]
    pub login_succeeded: bool,
    /// Client commands read.
    #[serde(skip_serializing_if = "is_zero")]
    pub commands: u32,
    /// Client commands that are not POP3 commands this inspector knows.
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_commands: u32,
    /// `-ERR` answers.
    #[serde(skip_serializing_if = "is_zero")]
    pub errors: u32,
}

/// What the first bytes of an IMAP4 session say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImapFacts {
    /// The greeting after `* OK` (or `* PREAUTH` / `* BYE`): printable
    /// ASCII, truncated.
    pub greeting: String,
    /// The greeting was PREAUTH (already logged in).
    #[serde(skip_serializing_if = "is_false")]
    pub preauth: bool,
    /// The greeting was BYE (refused).
    #[serde(skip_serializing_if = "is_false")]
    pub bye: bool,
    /// CAPABILITY atoms (untagged answer or `[CAPABILITY ...]` code), upper
    /// case, unknown ones included; `AUTH=` ones are in `auth_mechanisms`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// `AUTH=` mechanisms.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_mechanisms: Vec<String>,
    /// STARTTLS offered.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_offered: bool,
    /// LOGINDISABLED advertised.
    #[serde(skip_serializing_if = "is_false")]
    pub login_disabled: bool,
    /// The client sent STARTTLS.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_requested: bool,
    /// STARTTLS answered OK (or, answer not captured, the client went on
    /// with a TLS record). Nothing after that is parsed.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_started: bool,
    /// A password went in clear: LOGIN, or AUTHENTICATE PLAIN/LOGIN, before
    /// TLS.
    #[serde(skip_serializing_if = "is_false")]
    pub cleartext_login: bool,
    /// How the client logged in: `LOGIN` or `AUTHENTICATE <mech>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_mechanism: Option<String>,
    /// The login's tagged answer was OK.
    #[serde(skip_serializing_if = "is_false")]
    pub login_succeeded: bool,
    /// Client commands read.
    #[serde(skip_serializing_if = "is_zero")]
    pub commands: u32,
    /// Client commands that are not IMAP commands this inspector knows.
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_commands: u32,
    /// Tagged NO answers.
    #[serde(skip_serializing_if = "is_zero")]
    pub no_answers: u32,
    /// Tagged BAD answers.
    #[serde(skip_serializing_if = "is_zero")]
    pub bad_answers: u32,
}

/// POP3 facts, or `None` when the streams are not POP3.
pub fn inspect_pop3(s: &Streams) -> Option<Pop3Facts> {
    pop3::inspect(s)
}

/// IMAP4 facts, or `None` when the streams are not IMAP4.
pub fn inspect_imap(s: &Streams) -> Option<ImapFacts> {
    imap::inspect(s)
}

/// A password-carrying SASL mechanism.
fn is_cleartext_mech(mech: &str) -> bool {
    matches!(mech, "PLAIN" | "LOGIN")
}

#[deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]
mod pop3 {
    use super::*;

    const VERBS: &[&str] = &[
        "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP",
        "RSET", "TOP", "UIDL", "LAST", "XTND",
    ];

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Status {
        Ok,
        Err,
        /// `+ ` SASL continuation.
        More,
    }

    fn parse_status(line: &[u8]) -> Option<(Status, &[u8])> {
        let (w, rest) = split_word(line);
        match w {
            _ if w.eq_ignore_ascii_case(b"+OK") => Some((Status::Ok, rest)),
            _ if w.eq_ignore_ascii_case(b"-ERR") => Some((Status::Err, rest)),
            b"+" => Some((Status::More, rest)),
            _ => None,
        }
    }

    struct Server<'a> {
        cur: Cursor<'a>,
    }

    impl<'a> Server<'a> {
        /// The next status line; nothing moves on anything else.
        fn status(&mut self) -> Option<Status> {
            let line = match self.cur.peek_line(MAX_LINE) {
                Parsed::Done(line, _) => line,
                Parsed::NeedMore | Parsed::Invalid => return None,
            };
            let (st, _) = parse_status(line)?;
            self.cur.next_line(MAX_LINE)?;
            Some(st)
        }

        /// The lines of a multi-line answer up to ".", each to `each`
        /// (dot-unstuffed). `false` when the end is not in the bytes.
        fn multi(&mut self, mut each: impl FnMut(&'a [u8])) -> bool {
            let mut cur = self.cur;
            loop {
                match parse_line(cur.rest(), usize::MAX) {
                    Parsed::Done(line, used) => {
                        if !cur.skip(used) {
                            return false;
                        }
                        if line == b"." {
                            self.cur = cur;
                            return true;
                        }
                        each(line.strip_prefix(b".").unwrap_or(line));
                    }
                    Parsed::NeedMore | Parsed::Invalid => return false,
                }
            }
        }
    }

    fn is_pop3_verb(verb: &[u8]) -> bool {
        VERBS.iter().any(|v| v.as_bytes().eq_ignore_ascii_case(verb))
    }

    pub(super) fn inspect(s: &Streams) -> Option<Pop3Facts> {
        let mut server = Server {
            cur: Cursor::new(s.s2c),
        };
        let greeting = match server.cur.peek_line(MAX_LINE) {
            Parsed::Done(line, _) => line,
            Parsed::NeedMore | Parsed::Invalid => return None,
        };
        let (Status::Ok, text) = parse_status(greeting)? else {
            return None;
        };
        server.cur.next_line(MAX_LINE)?;
        let mut facts = Pop3Facts {
            greeting: sanitize(text, MAX_GREETING),
            ..Pop3Facts::default()
        };
        let mut cmds = Cursor::new(s.c2s);
        match cmds.peek_line(MAX_LINE) {
            Parsed::Done(line, _) => {
                if !is_pop3_verb(split_word(line).0) {
                    return None;
                }
            }
            Parsed::NeedMore => {}
            Parsed::Invalid => return None,
        }
        walk(&mut facts, &mut cmds, &mut server);
        Some(facts)
    }

    fn answer(facts: &mut Pop3Facts, server: &mut Server<'_>) -> Option<Status> {
        let st = server.status();
        if st == Some(Status::Err) {
            facts.errors = facts.errors.saturating_add(1);
        }
        st
    }

    fn walk(facts: &mut Pop3Facts, cmds: &mut Cursor<'_>, server: &mut Server<'_>) {
        let mut user_sent = false;
        while let Some(line) = cmds.next_line(MAX_LINE) {
            let (verb, args) = split_word(line);
            facts.commands = facts.commands.saturating_add(1);
            let name = token(verb);
            match name.as_str() {
                "CAPA" => {
                    if answer(facts, server) == Some(Status::Ok) && !server.multi(|l| capa(facts, l)) {
                        return;
                    }
                }
                "STLS" => {
                    facts.stls_requested = true;
                    let st = answer(facts, server);
                    let started = match st {
                        Some(st) => st == Status::Ok,
                        None => cmds.at_tls_record(),
                    };
                    if started || st.is_none() {
                        facts.tls_started = started;
                        return;
                    }
                }
                "USER" => {
                    user_sent = true;
                    answer(facts, server);
                }
                "PASS" | "APOP" => {
                    facts.cleartext_login = true;
                    let how = if name == "APOP" || !user_sent {
                        name.clone()
                    } else {
                        "USER/PASS".to_string()
                    };
                    facts.login_mechanism.get_or_insert(how);
                    facts.login_succeeded = answer(facts, server) == Some(Status::Ok);
                }
                "AUTH" => {
                    let (mech, _initial_response) = split_word(args);
                    if mech.is_empty() {
                        // Mechanism list (RFC 1734 style).
                        if answer(facts, server) == Some(Status::Ok) && !server.multi(|_| ()) {
                            return;
                        }
                        continue;
                    }
                    let mech = token(mech);
                    facts.cleartext_login |= is_cleartext_mech(&mech);
                    facts.login_mechanism.get_or_insert(format!("AUTH {mech}"));
                    if !sasl(facts, cmds, server) {
                        return;
                    }
                }
                "LIST" | "UIDL" if args.is_empty() => {
                    if answer(facts, server) == Some(Status::Ok) && !server.multi(|_| ()) {
                        return;
                    }
                }
                "RETR" | "TOP" => {
                    if answer(facts, server) == Some(Status::Ok) && !server.multi(|_| ()) {
                        return;
                    }
                }
                "QUIT" => {
                    answer(facts, server);
                    return;
                }
                _ => {
                    if !is_pop3_verb(verb) {
                        facts.unknown_commands = facts.unknown_commands.saturating_add(1);
                    }
                    answer(facts, server);
                }
            }
        }
    }

    fn capa(facts: &mut Pop3Facts, line: &[u8]) {
        let (kw, params) = split_word(line);
        if kw.is_empty() {
            return;
        }
        let kw = token(kw);
        match kw.as_str() {
            "STLS" => facts.stls_offered = true,
            "SASL" => {
                for m in params.split(|&b| b == b' ').filter(|m| !m.is_empty()) {
                    push_bounded(&mut facts.sasl_mechanisms, token(m), MAX_MECHANISMS);
                }
            }
            _ => {}
        }
        push_bounded(&mut facts.capabilities, kw, MAX_CAPABILITIES);
    }

    /// The rest of an AUTH exchange: each `+ ` takes one client line
    /// (dropped unread). `false` when the client's bytes ran out.
    fn sasl(facts: &mut Pop3Facts, cmds: &mut Cursor<'_>, server: &mut Server<'_>) -> bool {
        loop {
            match answer(facts, server) {
                Some(Status::More) => {
                    if cmds.next_line(MAX_LINE).is_none() {
                        return false;
                    }
                }
                Some(st) => {
                    facts.login_succeeded = st == Status::Ok;
                    return true;
                }
                None => {
                    while let Parsed::Done(line, _) = cmds.peek_line(MAX_LINE) {
                        if !is_sasl_response(line) || is_pop3_verb(split_word(line).0) {
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

#[deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]
mod imap {
    use super::*;

    const VERBS: &[&str] = &[
        "CAPABILITY",
        "NOOP",
        "LOGOUT",
        "STARTTLS",
        "AUTHENTICATE",
        "LOGIN",
        "SELECT",
        "EXAMINE",
        "CREATE",
        "DELETE",
        "RENAME",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "LIST",
        "LSUB",
        "STATUS",
        "APPEND",
        "CHECK",
        "CLOSE",
        "EXPUNGE",
        "SEARCH",
        "FETCH",
        "STORE",
        "COPY",
        "MOVE",
        "UID",
        "ID",
        "IDLE",
        "NAMESPACE",
        "ENABLE",
        "UNSELECT",
        "GETQUOTAROOT",
        "GETQUOTA",
        "GETACL",
        "MYRIGHTS",
        "COMPRESS",
        "XLIST",
    ];

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Status {
        Ok,
        No,
        Bad,
        Other,
    }

    fn status_of(w: &[u8]) -> Status {
        if w.eq_ignore_ascii_case(b"OK") {
            Status::Ok
        } else if w.eq_ignore_ascii_case(b"NO") {
            Status::No
        } else if w.eq_ignore_ascii_case(b"BAD") {
            Status::Bad
        } else {
            Status::Other
        }
    }

    /// A tagged answer.
    struct Tagged<'a> {
        tag: &'a [u8],
        status: Status,
    }

    fn is_tag_byte(b: u8) -> bool {
        b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'*' | b'%' | b'"' | b'\\' | b'+')
    }

    fn is_tag(w: &[u8]) -> bool {
        !w.is_empty() && w.len() <= 64 && w.iter().all(|&b| is_tag_byte(b))
    }

    /// The literal length a line ends with (`{n}` or `{n+}`), if any.
    fn literal_len(line: &[u8]) -> Option<usize> {
        let body = line.strip_suffix(b"}")?;
        let open = body.iter().rposition(|&b| b == b'{')?;
        let n = body.get(open.checked_add(1)?..)?;
        let n = n.strip_suffix(b"+").unwrap_or(n);
        usize::try_from(parse_decimal(n)?).ok()
    }

    /// One logical line: its first physical line, with any literals it
    /// announces (and the lines that continue it) skipped. `None` when it
    /// is not all in the bytes.
    fn logical_line<'a>(cur: &mut Cursor<'a>) -> Option<&'a [u8]> {
        let mut c = *cur;
        let first = c.next_line(MAX_LINE)?;
        let mut line = first;
        while let Some(n) = literal_len(line) {
            if !c.skip(n) {
                return None;
            }
            line = c.next_line(MAX_LINE)?;
        }
        *cur = c;
        Some(first)
    }

    /// Capability atoms of `CAPABILITY a b c` text.
    fn capabilities(facts: &mut ImapFacts, atoms: &[u8]) {
        for atom in atoms.split(|&b| b == b' ').filter(|a| !a.is_empty()) {
            let atom = token(atom);
            if let Some(mech) = atom.strip_prefix("AUTH=") {
                push_bounded(&mut facts.auth_mechanisms, mech.to_string(), MAX_MECHANISMS);
                continue;
            }
            match atom.as_str() {
                "STARTTLS" => facts.starttls_offered = true,
                "LOGINDISABLED" => facts.login_disabled = true,
                _ => {}
            }
            push_bounded(&mut facts.capabilities, atom, MAX_CAPABILITIES);
        }
    }

    /// A `[CAPABILITY ...]` response code at the start of status text.
    fn capability_code(facts: &mut ImapFacts, text: &[u8]) {
        let Some(code) = text.strip_prefix(b"[") else {
            return;
        };
        let end = code.iter().position(|&b| b == b']').unwrap_or(code.len());
        let code = code.get(..end).unwrap_or_default();
        let (w, atoms) = split_word(code);
        if w.eq_ignore_ascii_case(b"CAPABILITY") {
            capabilities(facts, atoms);
        }
    }

    /// Read the server's responses (stopping at anything that is not one,
    /// such as a TLS record), keeping the tagged answers.
    fn read_server<'a>(facts: &mut ImapFacts, cur: &mut Cursor<'a>) -> Vec<Tagged<'a>> {
        let mut tagged = Vec::new();
        while tagged.len() < MAX_RESPONSES {
            let Some(line) = logical_line(cur) else {
                break;
            };
            let (w, rest) = split_word(line);
            if w == b"*" {
                let (kind, text) = split_word(rest);
                if kind.eq_ignore_ascii_case(b"CAPABILITY") {
                    capabilities(facts, text);
                } else if status_of(kind) == Status::Ok {
                    capability_code(facts, text);
                }
            } else if w == b"+" {
                // Continuation request.
            } else if is_tag(w) {
                let (st, text) = split_word(rest);
                let status = status_of(st);
                if status == Status::Other {
                    break;
                }
                if status == Status::Ok {
                    capability_code(facts, text);
                }
                tagged.push(Tagged { tag: w, status });
            } else {
                break;
            }
        }
        tagged
    }

    fn is_imap_verb(verb: &[u8]) -> bool {
        VERBS.iter().any(|v| v.as_bytes().eq_ignore_ascii_case(verb))
    }

    pub(super) fn inspect(s: &Streams) -> Option<ImapFacts> {
        let mut server = Cursor::new(s.s2c);
        let greeting = match server.peek_line(MAX_LINE) {
            Parsed::Done(line, _) => line,
            Parsed::NeedMore | Parsed::Invalid => return None,
        };
        let (star, rest) = split_word(greeting);
        let (kind, text) = split_word(rest);
        if star != b"*" {
            return None;
        }
        let mut facts = ImapFacts::default();
        if kind.eq_ignore_ascii_case(b"PREAUTH") {
            facts.preauth = true;
        } else if kind.eq_ignore_ascii_case(b"BYE") {
            facts.bye = true;
        } else if !kind.eq_ignore_ascii_case(b"OK") {
            return None;
        }
        server.next_line(MAX_LINE)?;
        capability_code(&mut facts, text);
        // The text after a [code], if any.
        let shown = match text.strip_prefix(b"[") {
            Some(t) => match t.iter().position(|&b| b == b']') {
                Some(i) => t.get(i.checked_add(1)?..).unwrap_or_default(),
                None => text,
            },
            None => text,
        };
        facts.greeting = sanitize(shown, MAX_GREETING);

        let mut cmds = Cursor::new(s.c2s);
        match cmds.peek_line(MAX_LINE) {
            Parsed::Done(line, _) => {
                let (tag, rest) = split_word(line);
                if !is_tag(tag) || !is_imap_verb(split_word(rest).0) {
                    return None;
                }
            }
            Parsed::NeedMore => {}
            Parsed::Invalid => return None,
        }
        let tagged = read_server(&mut facts, &mut server);
        walk(&mut facts, &mut cmds, &tagged);
        Some(facts)
    }

    fn answer_for(tagged: &[Tagged<'_>], tag: &[u8]) -> Option<Status> {
        tagged.iter().find(|t| t.tag == tag).map(|t| t.status)
    }

    fn walk(facts: &mut ImapFacts, cmds: &mut Cursor<'_>, tagged: &[Tagged<'_>]) {
        while let Some(line) = logical_line(cmds) {
            let (tag, rest) = split_word(line);
            let (verb, args) = split_word(rest);
            facts.commands = facts.commands.saturating_add(1);
            let name = token(verb);
            let answer = answer_for(tagged, tag);
            match answer {
                Some(Status::No) => facts.no_answers = facts.no_answers.saturating_add(1),
                Some(Status::Bad) => facts.bad_answers = facts.bad_answers.saturating_add(1),
                _ => {}
            }
            match name.as_str() {
                "STARTTLS" => {
                    facts.starttls_requested = true;
                    let started = match answer {
                        Some(st) => st == Status::Ok,
                        None => cmds.at_tls_record(),
                    };
                    if started || answer.is_none() {
                        facts.tls_started = started;
                        return;
                    }
                }
                "LOGIN" => {
                    facts.cleartext_login = true;
                    facts.login_mechanism.get_or_insert_with(|| name.clone());
                    facts.login_succeeded |= answer == Some(Status::Ok);
                }
                "AUTHENTICATE" => {
                    let (mech, _initial_response) = split_word(args);
                    let mech = token(mech);
                    facts.cleartext_login |= is_cleartext_mech(&mech);
                    facts
                        .login_mechanism
                        .get_or_insert_with(|| format!("AUTHENTICATE {mech}"));
                    facts.login_succeeded |= answer == Some(Status::Ok);
                    // SASL responses: lines without a space (commands
                    // always have "tag SP verb").
                    while let Parsed::Done(line, _) = cmds.peek_line(MAX_LINE) {
                        if !is_sasl_response(line) {
                            break;
                        }
                        if cmds.next_line(MAX_LINE).is_none() {
                            return;
                        }
                    }
                }
                "LOGOUT" => return,
                _ => {
                    if !is_imap_verb(verb) {
                        facts.unknown_commands = facts.unknown_commands.saturating_add(1);
                    }
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

    fn pop3(c2s: &[u8], s2c: &[u8]) -> Option<Pop3Facts> {
        inspect_pop3(&Streams { c2s, s2c })
    }

    fn imap(c2s: &[u8], s2c: &[u8]) -> Option<ImapFacts> {
        inspect_imap(&Streams { c2s, s2c })
    }

    // Real bytes, taken with `tshark -r F -q -z follow,tcp,raw,0` from
    // /work/shared/captures/public/ (see SOURCES.md there).
    /// suricata-verify imap-detection.pcap, server to client: "Microsoft Exchange IMAP4rev1 server version 5.5" greeting, CAPABILITY, LOGIN OK, LIST, SELECT, FETCH with a {303} literal (first 1100 bytes).
    const EXCHANGE_IMAP_S2C: &str = concat!(
        "2a204f4b204d6963726f736f66742045786368616e676520494d41503472657631207365727665722076657273696f6e",
        "20352e352e323635302e32332028756d722d6d61696c3032292072656164790d0a2a204341504142494c49545920494d",
        "41503420494d415034726576312049444c45204c49544552414c2b204c4f47494e2d524546455252414c53204d41494c",
        "424f582d524546455252414c53204e414d45535041434520415554483d4e544c4d0d0a6130303030204f4b2043415041",
        "42494c49545920636f6d706c657465642e0d0a6130303031204f4b204c4f47494e20636f6d706c657465642e0d0a2a20",
        "4c49535420285c4e6f73656c6563742920222f222022220d0a6130303032204f4b204c49535420636f6d706c65746564",
        "2e0d0a2a203133204558495354530d0a2a20313320524543454e540d0a2a20464c41475320285c5365656e205c416e73",
        "7765726564205c466c6167676564205c44656c65746564205c4472616674290d0a2a204f4b205b5045524d414e454e54",
        "464c41475320285c5365656e205c416e737765726564205c466c6167676564205c44656c65746564205c447261667429",
        "5d0d0a2a204f4b205b55494456414c494449545920323039375d2055494456414c49444954592076616c75652e0d0a61",
        "30303033204f4b205b524541442d57524954455d2053454c45435420636f6d706c657465642e0d0a2a20312046455443",
        "482028464c41475320285c5365656e205c526563656e742920494e5445524e414c44415445202231312d4e6f762d3139",
        "39392030383a33363a3534202d3036303022205246433832322e53495a45203230353920424f44595b4845414445522e",
        "4649454c44532028444154452046524f4d205355424a45435420544f204343204d4553534147452d4944205245464552",
        "454e43455320434f4e54454e542d5459504520494e2d5245504c592d544f205245504c592d544f295d207b3330337d0d",
        "0a446174653a205468752c203131204e6f7620313939392030383a33363a3534202d303630300d0a46726f6d3a202255",
        "657472656368742c2044616e69656c204a2e22203c756574726563687440756d722e6564753e0d0a5375626a6563743a",
        "2052453a20706970657320696d706c656d656e746174696f6e206f6620626b757065786563206167656e740d0a546f3a",
        "20224e65756c696e6765722c204e617468616e20522e22203c6e6e65756c40756d722e6564753e0d0a4d657373616765",
        "2d49443a203c394441384432344239313542443131313839313130303630393435313645414630323631393430434075",
        "6d722d6d61696c30323e0d0a436f6e74656e742d547970653a20746578742f706c61696e3b0d0a09636861727365743d",
        "2269736f2d383835392d31220d0a0d0a290d0a2a20322046455443482028464c41475320285c5365656e205c52656365",
        "6e742920494e5445524e414c44415445202231312d4e6f762d313939392030383a34323a3231202d30363030",
    );
    /// suricata-verify imap-detection.pcap, client to server: CAPABILITY, LOGIN with user and password in clear, LIST, SELECT, FETCH.
    const EXCHANGE_IMAP_C2S: &str = concat!(
        "6130303030204341504142494c4954590d0a6130303031204c4f47494e20226e65756c696e6765726e22202258585858",
        "5858220d0a6130303032204c4953542022222022220d0a61303030332053454c4543542022494e424f58220d0a613030",
        "303420464554434820313a31332028464c41475320494e5445524e414c44415445205246433832322e53495a4520424f",
        "44592e5045454b5b4845414445522e4649454c44532028444154452046524f4d205355424a45435420544f204343204d",
        "4553534147452d4944205245464552454e43455320434f4e54454e542d5459504520494e2d5245504c592d544f205245",
        "504c592d544f295d290d0a",
    );
    /// zeek tls/pop3-starttls.pcap, server to client: Cyrus greeting, "+OK Begin TLS negotiation now", 48 bytes of ServerHello.
    const CYRUS_POP3_STLS_S2C: &str = concat!(
        "2b4f4b206c6164796d6163626574682e6c6f63616c20437972757320504f50332076322e332e31362073657276657220",
        "7265616479203c31353132353635353732373731323530333832342e31343030313733353532406c6164796d61636265",
        "74682e6c6f63616c3e0d0a2b4f4b20426567696e20544c53206e65676f74696174696f6e206e6f770d0a160303003a02",
        "0000360303ceb1231390622a32e8665e2d29d9c389d5131549b988e8d02710c5b34526746800009f0100",
    );
    /// zeek tls/pop3-starttls.pcap, client to server: STLS, 48 bytes of ClientHello.
    const CYRUS_POP3_STLS_C2S: &str = concat!(
        "53544c530d0a1603010200010001fc03032d1ca7ab4440a20e222f0604e80ba67563deb8e7e39230c96d12fafe9fd28b",
        "780000a0c030",
    );
    /// SYNTHETIC (no public capture of POP3 USER/PASS in clear): an
    /// Exchange-style POP3 session with CAPA, USER and PASS before any TLS.
    /// User name and password are "alice" / "S3cretPw!".
    const EXCHANGE_POP3_USERPASS_S2C: &[u8] = b"+OK The Microsoft Exchange POP3 service is ready.\r\n\
+OK\r\nTOP\r\nUIDL\r\nSASL NTLM GSSAPI PLAIN\r\nUSER\r\nSTLS\r\nX-FUTURE-CAP 1\r\n.\r\n\
+OK\r\n+OK User successfully logged on.\r\n+OK 2 300\r\n+OK Microsoft Exchange Server POP3 server signing off.\r\n";
    const EXCHANGE_POP3_USERPASS_C2S: &[u8] = b"CAPA\r\nUSER alice\r\nPASS S3cretPw!\r\nSTAT\r\nQUIT\r\n";

    /// SYNTHETIC: IMAP AUTHENTICATE PLAIN with a SASL response line
    /// (base64 of "\0alice\0S3cretPw!"), then a refused login by literal.
    const IMAP_AUTH_PLAIN_S2C: &[u8] = b"* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN AUTH=NTLM X-FUTURE] The Microsoft Exchange IMAP4 service is ready.\r\n\
+ \r\n\
a1 OK AUTHENTICATE completed.\r\n\
+ Ready for literal\r\n\
a2 NO LOGIN failed.\r\n\
a3 OK LOGOUT completed.\r\n";
    const IMAP_AUTH_PLAIN_C2S: &[u8] = b"a1 AUTHENTICATE PLAIN\r\n\
AGFsaWNlAFMzY3JldFB3IQ==\r\n\
a2 LOGIN {5}\r\nalice S3cretPw!\r\n\
a3 LOGOUT\r\n";

    /// SYNTHETIC: IMAP STARTTLS accepted, then a TLS ClientHello start.
    const IMAP_STARTTLS_S2C: &[u8] = b"* OK IMAP4rev1 ready\r\n\
* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n\
t1 OK done\r\n\
t2 OK Begin TLS negotiation now\r\n\
\x16\x03\x03\x00\x4a\x02\x00\x00\x46\x03\x03";
    const IMAP_STARTTLS_C2S: &[u8] =
        b"t1 CAPABILITY\r\nt2 STARTTLS\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

    #[test]
    fn golden_pop3_stls() {
        let (c, s) = (hex(CYRUS_POP3_STLS_C2S), hex(CYRUS_POP3_STLS_S2C));
        let f = pop3(&c, &s).expect("pop3");
        assert!(f
            .greeting
            .starts_with("ladymacbeth.local Cyrus POP3 v2.3.16 server ready"));
        assert!(f.stls_requested && f.tls_started);
        assert!(!f.cleartext_login);
        assert_eq!(f.commands, 1);
        assert_eq!(imap(&c, &s), None);
    }

    #[test]
    fn golden_pop3_userpass_synthetic() {
        let f = pop3(EXCHANGE_POP3_USERPASS_C2S, EXCHANGE_POP3_USERPASS_S2C).expect("pop3");
        assert!(f.greeting.contains("Microsoft Exchange"), "{}", f.greeting);
        assert_eq!(
            f.capabilities,
            ["TOP", "UIDL", "SASL", "USER", "STLS", "X-FUTURE-CAP"]
        );
        assert_eq!(f.sasl_mechanisms, ["NTLM", "GSSAPI", "PLAIN"]);
        assert!(f.stls_offered && !f.stls_requested && !f.tls_started);
        assert!(f.cleartext_login && f.login_succeeded);
        assert_eq!(f.login_mechanism.as_deref(), Some("USER/PASS"));
        assert_eq!(f.commands, 5);
        assert_eq!(f.errors, 0);
        let json = serde_json::to_string(&f).expect("json");
        assert!(!json.contains("alice") && !json.contains("S3cret"), "{json}");
    }

    #[test]
    fn pop3_failed_login_and_unknown_command() {
        let f = pop3(
            b"USER bob\r\nPASS x\r\nFROB\r\n",
            b"+OK hi\r\n+OK\r\n-ERR Logon failure\r\n-ERR what\r\n",
        )
        .expect("pop3");
        assert!(f.cleartext_login && !f.login_succeeded);
        assert_eq!(f.errors, 2);
        assert_eq!(f.unknown_commands, 1);
    }

    #[test]
    fn golden_imap_exchange_login() {
        let (c, s) = (hex(EXCHANGE_IMAP_C2S), hex(EXCHANGE_IMAP_S2C));
        let f = imap(&c, &s).expect("imap");
        assert!(f
            .greeting
            .starts_with("Microsoft Exchange IMAP4rev1 server version 5.5.2650.23"));
        assert!(f.greeting.contains("Microsoft Exchange"), "{}", f.greeting);
        assert_eq!(
            f.capabilities,
            [
                "IMAP4",
                "IMAP4REV1",
                "IDLE",
                "LITERAL+",
                "LOGIN-REFERRALS",
                "MAILBOX-REFERRALS",
                "NAMESPACE"
            ]
        );
        assert_eq!(f.auth_mechanisms, ["NTLM"]);
        assert!(!f.starttls_offered && !f.login_disabled && !f.tls_started);
        assert!(f.cleartext_login && f.login_succeeded);
        assert_eq!(f.login_mechanism.as_deref(), Some("LOGIN"));
        assert_eq!(f.commands, 5);
        assert_eq!(f.unknown_commands, 0);
        let json = serde_json::to_string(&f).expect("json");
        assert!(!json.contains("neulingern") && !json.contains("XXXXXX"), "{json}");
        assert_eq!(pop3(&c, &s), None);
    }

    #[test]
    fn imap_authenticate_plain_synthetic() {
        let f = imap(IMAP_AUTH_PLAIN_C2S, IMAP_AUTH_PLAIN_S2C).expect("imap");
        assert!(f.greeting.contains("Microsoft Exchange"), "{}", f.greeting);
        assert_eq!(f.greeting, "The Microsoft Exchange IMAP4 service is ready.");
        assert_eq!(f.auth_mechanisms, ["PLAIN", "NTLM"]);
        assert!(f.capabilities.contains(&"X-FUTURE".to_string()));
        assert!(f.starttls_offered);
        assert!(f.cleartext_login && f.login_succeeded);
        assert_eq!(f.login_mechanism.as_deref(), Some("AUTHENTICATE PLAIN"));
        // AUTHENTICATE, LOGIN (its literal skipped), LOGOUT.
        assert_eq!(f.commands, 3);
        assert_eq!(f.no_answers, 1);
        assert_eq!(f.unknown_commands, 0);
        let json = serde_json::to_string(&f).expect("json");
        for secret in ["alice", "S3cret", "AGFsaWNl"] {
            assert!(!json.contains(secret), "{json}");
        }
    }

    #[test]
    fn imap_starttls_synthetic() {
        let f = imap(IMAP_STARTTLS_C2S, IMAP_STARTTLS_S2C).expect("imap");
        assert!(f.starttls_offered && f.login_disabled);
        assert!(f.starttls_requested && f.tls_started);
        assert!(!f.cleartext_login);
        assert_eq!(f.commands, 2);
        // Answer not captured: the ClientHello that follows tells.
        let cut = IMAP_STARTTLS_S2C
            .windows(3)
            .position(|w| w == b"t2 ")
            .expect("t2");
        let f = imap(IMAP_STARTTLS_C2S, &IMAP_STARTTLS_S2C[..cut]).expect("imap");
        assert!(f.tls_started);
        // Refused: the session goes on in clear.
        let f = imap(
            b"t2 STARTTLS\r\nt3 LOGIN a b\r\n",
            b"* OK hi\r\nt2 BAD no\r\nt3 OK\r\n",
        )
        .expect("imap");
        assert!(!f.tls_started && f.cleartext_login && f.login_succeeded);
        assert_eq!(f.bad_answers, 1);
    }

    #[test]
    fn imap_preauth_and_unknown() {
        let f = imap(
            b"x0 NOOP\r\nx1 FROBNICATE\r\n",
            b"* PREAUTH [CAPABILITY IMAP4rev1 X-NEW] hi\r\nx0 OK\r\nx1 BAD unknown\r\n",
        )
        .expect("imap");
        assert!(f.preauth);
        assert_eq!(f.greeting, "hi");
        assert_eq!(f.capabilities, ["IMAP4REV1", "X-NEW"]);
        assert_eq!(f.unknown_commands, 1);
        assert_eq!(f.bad_answers, 1);
        // A first command that is not IMAP: not IMAP.
        assert_eq!(imap(b"x1 FROBNICATE\r\n", b"* OK hi\r\n"), None);
    }

    #[test]
    fn not_pop3_or_imap() {
        for (c, s) in [
            (&b""[..], &b""[..]),
            (b"", b"220 mx ESMTP\r\n"),
            (b"EHLO x\r\n", b"+OK but then smtp\r\n"),
            (b"GET / HTTP/1.1\r\n", b"* OK not really\r\n"),
            (b"\x16\x03\x01", b"\x16\x03\x03"),
            (b"", &[b'+'; 5000][..]),
            (b"", &[b'*'; 5000][..]),
        ] {
            assert_eq!(pop3(c, s), None);
            assert_eq!(imap(c, s), None);
        }
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13).to_le_bytes()[0])
            .collect();
        assert_eq!(pop3(&garbage, &garbage), None);
        assert_eq!(imap(&garbage, &garbage), None);
    }

    #[test]
    fn bounded_lists_and_literals() {
        let mut s = b"* OK hi\r\n* CAPABILITY".to_vec();
        for i in 0..200 {
            s.extend(format!(" CAP{i}").as_bytes());
        }
        s.extend(b"\r\n");
        let f = imap(b"", &s).expect("imap");
        assert_eq!(f.capabilities.len(), MAX_CAPABILITIES);
        // A literal larger than the bytes: stop, no panic.
        let f = imap(b"a LOGIN {4294967295}\r\nxx", b"* OK hi\r\n").expect("imap");
        assert_eq!(f.commands, 0);
        let f = imap(b"a LOGIN {99999999999999999999}\r\n", b"* OK hi\r\n").expect("imap");
        assert_eq!(f.commands, 1);
    }

    fn pop3_fixtures() -> Vec<(Vec<u8>, Vec<u8>)> {
        vec![
            (hex(CYRUS_POP3_STLS_C2S), hex(CYRUS_POP3_STLS_S2C)),
            (
                EXCHANGE_POP3_USERPASS_C2S.to_vec(),
                EXCHANGE_POP3_USERPASS_S2C.to_vec(),
            ),
        ]
    }

    fn imap_fixtures() -> Vec<(Vec<u8>, Vec<u8>)> {
        vec![
            (hex(EXCHANGE_IMAP_C2S), hex(EXCHANGE_IMAP_S2C)),
            (IMAP_AUTH_PLAIN_C2S.to_vec(), IMAP_AUTH_PLAIN_S2C.to_vec()),
            (IMAP_STARTTLS_C2S.to_vec(), IMAP_STARTTLS_S2C.to_vec()),
        ]
    }

    fn prefixes(c: &[u8], s: &[u8], mut f: impl FnMut(usize, &[u8], &[u8])) {
        for i in 0..=c.len().max(s.len()) {
            let cc = &c[..i.min(c.len())];
            let ss = &s[..i.min(s.len())];
            f(i, cc, ss);
            f(i, cc, s);
            f(i, c, ss);
        }
    }

    #[test]
    fn every_truncated_prefix_pop3() {
        for (c, s) in pop3_fixtures() {
            let full = pop3(&c, &s).expect("full fixture");
            let mut last = None;
            prefixes(&c, &s, |_, cc, ss| {
                let got = pop3(cc, ss);
                if cc.len() == c.len() && ss.len() == s.len() {
                    last = got.clone();
                }
                if let Some(g) = got {
                    assert!(!g.tls_started || full.tls_started);
                    assert!(!g.cleartext_login || full.cleartext_login);
                }
            });
            assert_eq!(last, Some(full));
        }
    }

    #[test]
    fn every_truncated_prefix_imap() {
        for (c, s) in imap_fixtures() {
            let full = imap(&c, &s).expect("full fixture");
            let mut seen = false;
            prefixes(&c, &s, |_, cc, ss| {
                let got = imap(cc, ss);
                if let Some(g) = &got {
                    assert!(!g.tls_started || full.tls_started);
                    assert!(!g.cleartext_login || full.cleartext_login);
                    assert!(!g.login_succeeded || full.login_succeeded);
                }
                seen |= got.is_some();
            });
            assert!(seen);
        }
    }

    #[test]
    fn every_byte_flipped_never_panics() {
        for (c, s) in pop3_fixtures().into_iter().chain(imap_fixtures()) {
            for bad in [b'\n', b'{', b'}', b' '] {
                let mut c2 = c.clone();
                let mut s2 = s.clone();
                for i in 0..c2.len().min(400) {
                    let old = std::mem::replace(&mut c2[i], bad);
                    let _ = (pop3(&c2, &s), imap(&c2, &s));
                    c2[i] = old;
                }
                for i in 0..s2.len().min(400) {
                    let old = std::mem::replace(&mut s2[i], bad);
                    let _ = (pop3(&c, &s2), imap(&c, &s2));
                    s2[i] = old;
                }
            }
        }
    }
}
