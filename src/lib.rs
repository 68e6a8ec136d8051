#![forbid(unsafe_code)]
//! exaudit: a passive packet-capture auditor for Microsoft Exchange networks.

pub mod cli;
pub mod decode;
pub mod flow;
pub mod inspect;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod source;
pub mod rules;
pub mod topology;
