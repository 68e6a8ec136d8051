//! What the flow worker tells the rest of the program, as flows are
//! created, grow and end.

use super::{EndReason, Flow, TableStats};

/// What the flow worker tells the rest of the program.
pub trait FlowHandler {
    /// A packet created this flow.
    fn created(&mut self, _flow: &mut Flow) {}
    /// New payload bytes were added to `flow.inspect` (client side when `from_client`).
    fn payload(&mut self, _flow: &mut Flow, _from_client: bool) {}
    /// The flow left the table.
    fn ended(&mut self, flow: Flow, reason: EndReason);
    /// A copied frame of `flow` (live evidence): capture time, bytes (maybe
    /// cut), length on the wire.
    fn frame(&mut self, _flow: &Flow, _ts: i64, _data: &[u8], _wire_len: u32) {}
    /// Called about once a second by the live worker, after idle flows were
    /// expired on the wall clock: table counters and flows in the table.
    fn tick(&mut self, _table: &TableStats, _active: usize) {}
}

impl<F: FnMut(Flow, EndReason)> FlowHandler for F {
    fn ended(&mut self, flow: Flow, reason: EndReason) {
        self(flow, reason)
    }
}
