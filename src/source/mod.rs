//! Packet sources: offline files and live interfaces.

pub mod offline;
