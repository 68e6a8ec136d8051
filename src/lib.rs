#![forbid(unsafe_code)]
//! exaudit: a passive packet-capture auditor for Microsoft Exchange networks.

pub mod analyze;
pub mod audit;
pub mod classify;
pub mod cli;
pub mod decode;
pub mod diag;
pub mod findings;
pub mod flow;
pub mod inspect;
pub mod live;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod source;
pub mod vocab;
