//! The flow worker's side of the analysis: runs the inspectors over young
//! flows, turns endpoint-mapper answers into expectations and links the
//! connections that use them, and hands each ended flow to a sink (the
//! audit engine, or a first pass) as it ends.

use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::{to_ip, Addr};
use crate::flow::expect::ExpectTable;

use crate::classify::rules::InterfaceTable;
use crate::flow::{Direction, EndReason, Flow, FlowHandler, Inspection};
use crate::inspect::{self, dcerpc, AppFacts, Streams};
use crate::vocab::Uuid;

/// How long an endpoint-mapper answer stays valid, seconds.
pub const EXPECT_TTL_S: u32 = 600;
/// Endpoint-mapper answers remembered at once.
pub const MAX_EXPECTATIONS: usize = 16_384;

/// A connection to an endpoint the endpoint mapper had announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpmLink {
    /// The flow that carried the endpoint-mapper answer.
    pub epm_flow: u64,
    /// The interface announced for the endpoint.
    pub interface: String,
}

/// A flow that left the table, with what was learnt about it.
#[derive(Debug, Clone)]
pub struct EndedFlow {
    pub flow: Flow,
    pub app: AppFacts,
    pub epm: Option<EpmLink>,
    pub reason: EndReason,
}

/// The name of a DCE/RPC interface in `table`, else its UUID.
pub fn interface_label(table: &InterfaceTable, u: &crate::vocab::Uuid) -> String {
    table
        .name_of(&Uuid(u.0))
        .map_or_else(|| u.to_string(), str::to_string)
}

impl EndedFlow {
    /// Settles a guessed direction from what the content and the endpoint
    /// mapper said: the content read the other way round turns the flow
    /// (the other side is the client); content read as it was confirms it.
    pub fn settle_direction(&mut self) {
        if self.flow.direction != Direction::Guessed {
            return;
        }
        if self.app.reversed {
            self.flow.turn();
            self.flow.direction = Direction::Inferred;
        } else if self.app.tells_direction() || self.epm.is_some() {
            self.flow.direction = Direction::Inferred;
        }
    }
}

/// Implements [`FlowHandler`] for audits.
pub struct Analyzer<'a> {
    inspect_bytes: usize,
    epm_uuid: Option<crate::vocab::Uuid>,
    interfaces: &'a InterfaceTable,
    expect: ExpectTable,
    links: HashMap<u64, EpmLink>,
    /// Facts of live flows whose inspection finished early.
    facts: HashMap<u64, AppFacts>,
    /// Endpoint-mapper answers already turned into expectations, per live flow.
    epm_seen: HashMap<u64, usize>,
    /// Per live DCE/RPC flow: whether the client bound to the endpoint mapper
    /// (only those flows are re-read for answers as they grow).
    epm_bound: HashMap<u64, bool>,
    /// Where ended flows go, with the number of flows still tracked.
    sink: Box<dyn FnMut(EndedFlow, usize) + 'a>,
    /// Flows created and not ended yet.
    tracked: usize,
}

impl<'a> Analyzer<'a> {
    /// An analyzer that passes each ended flow to `sink`, with the number of
    /// flows still in the table, and keeps nothing.
    pub fn new(
        interfaces: &'a InterfaceTable,
        inspect_bytes: usize,
        sink: impl FnMut(EndedFlow, usize) + 'a,
    ) -> Analyzer<'a> {
        let epm_uuid = interfaces
            .uuid_of("epm")
            .and_then(|u| crate::vocab::Uuid::parse(&u.to_string()));
        Analyzer {
            inspect_bytes,
            epm_uuid,
            interfaces,
            expect: ExpectTable::new(MAX_EXPECTATIONS, EXPECT_TTL_S),
            links: HashMap::new(),
            facts: HashMap::new(),
            epm_seen: HashMap::new(),
            epm_bound: HashMap::new(),
            sink: Box::new(sink),
            tracked: 0,
        }
    }

    /// Endpoint-mapper expectations waiting for their connection.
    pub fn pending_expectations(&self) -> usize {
        self.expect.len()
    }

    pub fn expect_stats(&self) -> crate::flow::expect::ExpectStats {
        self.expect.stats
    }

    /// The endpoint mapper's interface UUID, as the inspectors take it.
    pub fn epm(&self) -> crate::vocab::Uuid {
        self.epm_uuid.unwrap_or(crate::vocab::Uuid([0; 16]))
    }

    fn interface_name(&self, u: &crate::vocab::Uuid) -> String {
        interface_label(self.interfaces, u)
    }

    /// The facts of a flow whose inspection ends now.
    fn finish_inspection(&mut self, flow: &mut Flow) -> AppFacts {
        if let Some(f) = self.facts.remove(&flow.id) {
            return f;
        }
        let Some(mut ins) = flow.inspect.take() else {
            return AppFacts::default();
        };
        ins.guessed = flow.direction == Direction::Guessed;
        if ins.c2s.is_empty() && ins.s2c.is_empty() {
            // No payload (a scan, a refused connection): nothing to inspect.
            return AppFacts::default();
        }
        inspect_streams(&mut ins, &self.epm())
    }

    /// Whether the client's bytes so far bind to the endpoint mapper: its
    /// interface UUID appears in them (little- or big-endian NDR). Decided
    /// once per flow, when the server first answers.
    fn is_epm_flow(&mut self, flow: &Flow) -> bool {
        if let Some(&b) = self.epm_bound.get(&flow.id) {
            return b;
        }
        let Some(ins) = flow.inspect.as_ref() else {
            return false;
        };
        let be = self.epm().0;
        let [a0, a1, a2, a3, b0, b1, c0, c1, rest @ ..] = be;
        let mut le = [a3, a2, a1, a0, b1, b0, c1, c0, 0, 0, 0, 0, 0, 0, 0, 0];
        if let Some(tail) = le.get_mut(8..) {
            tail.copy_from_slice(&rest);
        }
        let bound = ins.c2s.data.windows(16).any(|w| w == le || w == be);
        self.epm_bound.insert(flow.id, bound);
        bound
    }

    /// Registers the endpoints announced so far on an endpoint-mapper flow.
    fn epm_answers(&mut self, flow: &Flow) {
        let Some(ins) = flow.inspect.as_ref() else { return };
        let epm = self.epm();
        let s = Streams {
            c2s: &ins.c2s.data,
            s2c: &ins.s2c.data,
        };
        let Some(facts) = dcerpc::inspect_dcerpc(&s, &epm) else {
            return;
        };
        let seen = self.epm_seen.get(&flow.id).copied().unwrap_or(0);
        if facts.epm_answers.len() <= seen {
            return;
        }
        let server = to_ip(&flow.key.side(!flow.client_is_a).0);
        for a in facts.epm_answers.iter().skip(seen) {
            let name = self.interface_name(&a.interface);
            let addr = addr_of(a.host(server));
            self.expect
                .add(addr, a.port, a.ip_proto(), &name, flow.id, flow.last_ts);
        }
        self.epm_seen.insert(flow.id, facts.epm_answers.len());
    }
}

/// Runs every inspector over a finished flow's bytes. On a flow whose
/// direction was a guess and whose bytes say nothing read as they are, the
/// inspectors also read them the other way round: a DCE/RPC bind or an HTTP
/// request in what was taken for the server's stream names the client
/// (`AppFacts::reversed`; [`EndedFlow::settle_direction`] turns the flow).
pub fn inspect_streams(ins: &mut Inspection, epm: &crate::vocab::Uuid) -> AppFacts {
    ins.c2s.close();
    ins.s2c.close();
    let mut f = inspect::inspect_flow(
        &Streams {
            c2s: &ins.c2s.data,
            s2c: &ins.s2c.data,
        },
        epm,
    );
    if ins.guessed && !f.tells_direction() {
        let r = inspect::inspect_flow(
            &Streams {
                c2s: &ins.s2c.data,
                s2c: &ins.c2s.data,
            },
            epm,
        );
        if r.tells_direction() {
            f = r;
            f.reversed = true;
        }
    }
    f.gap = ins.c2s.gap || ins.s2c.gap;
    f
}

fn addr_of(ip: IpAddr) -> Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl FlowHandler for Analyzer<'_> {
    fn created(&mut self, flow: &mut Flow) {
        self.tracked += 1;
        if self.expect.is_empty() {
            return;
        }
        let (server, port) = flow.key.side(!flow.client_is_a);
        let mut hit = self.expect.take(&server, port, flow.key.proto, flow.first_ts);
        if hit.is_none() && flow.direction == Direction::Guessed {
            // The first packet came from the announced server: it is the server.
            let (client, cport) = flow.key.side(flow.client_is_a);
            hit = self.expect.take(&client, cport, flow.key.proto, flow.first_ts);
            if hit.is_some() {
                flow.turn();
            }
        }
        if let Some(e) = hit {
            if flow.direction == Direction::Guessed {
                flow.direction = Direction::Inferred;
            }
            self.links.insert(
                flow.id,
                EpmLink {
                    epm_flow: e.announced_by,
                    interface: e.interface,
                },
            );
        }
    }

    fn payload(&mut self, flow: &mut Flow, from_client: bool) {
        let Some(ins) = flow.inspect.as_mut() else { return };
        let wants = inspect::stream_budget(&ins.c2s.data, self.inspect_bytes);
        if wants > self.inspect_bytes {
            ins.cap = ins.cap.max(wants);
        }
        if !from_client && dcerpc::looks_like_dcerpc(&ins.c2s.data) && self.is_epm_flow(flow) {
            self.epm_answers(flow);
        }
        let Some(ins) = flow.inspect.as_ref() else { return };
        let cap = ins.cap_or(self.inspect_bytes);
        if ins.c2s.done(cap) && ins.s2c.done(cap) {
            let facts = self.finish_inspection(flow);
            self.facts.insert(flow.id, facts);
        }
    }

    fn ended(&mut self, mut flow: Flow, reason: EndReason) {
        let app = self.finish_inspection(&mut flow);
        let epm = self.links.remove(&flow.id);
        self.epm_seen.remove(&flow.id);
        self.epm_bound.remove(&flow.id);
        let mut e = EndedFlow {
            flow,
            app,
            epm,
            reason,
        };
        e.settle_direction();
        self.tracked = self.tracked.saturating_sub(1);
        (self.sink)(e, self.tracked);
    }
}

/// The client's and the server's address of a flow.
pub fn endpoints(f: &Flow) -> ((IpAddr, u16), (IpAddr, u16)) {
    let c = f.key.side(f.client_is_a);
    let s = f.key.side(!f.client_is_a);
    ((to_ip(&c.0), c.1), (to_ip(&s.0), s.1))
}
