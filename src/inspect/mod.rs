//! Inspectors: pure parsers over the first bytes of each direction of a flow.
//!
//! Each inspector is a function of the (ordered, bounded) client-to-server and
//! server-to-client byte streams to a small owned fact struct. No I/O, no
//! global state, and no Exchange port, UUID, path or host name in here: those
//! are data in `rules/`.

/// The three answers a wire parser can give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A complete item, and how many bytes it used.
    Done(T, usize),
    /// The bytes so far are a valid prefix: more are needed.
    NeedMore,
    /// The bytes are not this protocol (or are corrupt).
    Invalid,
}

/// The first bytes of both directions of a flow, in stream order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Streams<'a> {
    pub c2s: &'a [u8],
    pub s2c: &'a [u8],
}

pub mod auth;
pub mod dcerpc;
pub mod http;
pub mod ldap;
pub mod tls;
pub mod pop3_imap;
pub mod smtp;
