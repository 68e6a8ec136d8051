//! Packet sources: offline files and live interfaces.

pub mod bpf;
pub mod clock;
pub mod live;
pub mod offline;
