//! Flow tracking: canonical keys, the bounded table, TCP state.

pub mod expect;
pub mod handler;
pub mod key;
pub mod stream;
pub mod table;
pub mod tcp;

pub use handler::FlowHandler;
pub use key::FlowKey;
pub use stream::{Inspection, StreamBuf};
pub use table::{Direction, EndReason, Flow, FlowConfig, FlowTable, PacketMeta, TableStats};
pub use tcp::{ConnState, TcpTrack};
