//! Packet sources: offline files and live interfaces.

pub mod live;
pub mod offline;
