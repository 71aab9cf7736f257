//! In-process `ChannelManager` nodes wired back to back: a message a node
//! sends is handed to the node it is addressed to while the two are linked.
//! Included with `#[path]` by the tests that drive managers (directly, or
//! under the payment layer); on its own it has no tests.
#![allow(dead_code)]

use std::collections::VecDeque;

use bitcoin::ScriptBuf;
use lnwasm::channel::{Event, ManagerEvent, ManagerInput, OpenRequest};
use lnwasm::tx::FeeratePerKw;
use lnwasm::types::{Msat, Sat};
use lnwasm::wire::{lnwasm_init_features, ChannelId, Message};
use secp256k1::PublicKey;

/// The funding output asked for by the `FundingRequired` event of the
/// channel opened under `temp`.
pub fn funding_required(events: &[ManagerEvent], temp: ChannelId) -> (ScriptBuf, Sat) {
    events
        .iter()
        .find_map(|e| match e {
            ManagerEvent::Channel {
                event:
                    Event::FundingRequired {
                        temporary_channel_id,
                        script_pubkey,
                        amount,
                    },
                ..
            } if *temporary_channel_id == temp => Some((script_pubkey.clone(), *amount)),
            _ => None,
        })
        .expect("funding required")
}

/// What the network needs of a node.
pub trait ManagerNode {
    fn node_id(&self) -> PublicKey;
    /// Messages sent and not yet delivered, oldest first.
    fn outbox(&mut self) -> &mut VecDeque<(PublicKey, Message)>;
    /// Hands the node's manager one input and carries out its actions.
    fn feed(&mut self, i: ManagerInput);
    /// A node that is down delivers nothing of what it had queued.
    fn down(&self) -> bool {
        false
    }
}

pub struct Net<N> {
    pub nodes: Vec<N>,
    pub links: Vec<(usize, usize)>,
}

impl<N: ManagerNode> Net<N> {
    /// The nodes, none of them linked yet.
    pub fn with_nodes(nodes: Vec<N>) -> Net<N> {
        Net {
            nodes,
            links: vec![],
        }
    }

    pub fn idx(&self, id: &PublicKey) -> usize {
        self.nodes.iter().position(|n| n.node_id() == *id).unwrap()
    }

    pub fn linked(&self, x: usize, y: usize) -> bool {
        self.links.contains(&(x.min(y), x.max(y)))
    }

    pub fn connect(&mut self, x: usize, y: usize) {
        self.links.push((x.min(y), x.max(y)));
        let (ix, iy) = (self.nodes[x].node_id(), self.nodes[y].node_id());
        self.nodes[x].feed(ManagerInput::PeerConnected {
            node_id: iy,
            features: lnwasm_init_features(),
        });
        self.nodes[y].feed(ManagerInput::PeerConnected {
            node_id: ix,
            features: lnwasm_init_features(),
        });
    }

    pub fn disconnect(&mut self, x: usize, y: usize) {
        self.links.retain(|l| *l != (x.min(y), x.max(y)));
        let (ix, iy) = (self.nodes[x].node_id(), self.nodes[y].node_id());
        for (n, other) in [(x, iy), (y, ix)] {
            self.nodes[n].outbox().retain(|(to, _)| *to != other);
        }
        self.nodes[x].feed(ManagerInput::PeerDisconnected { node_id: iy });
        self.nodes[y].feed(ManagerInput::PeerDisconnected { node_id: ix });
    }

    /// Delivers one queued message of node `x`; false if none.
    pub fn step(&mut self, x: usize) -> bool {
        let Some((to, msg)) = self.nodes[x].outbox().pop_front() else {
            return false;
        };
        let y = self.idx(&to);
        if self.linked(x, y) && !self.nodes[x].down() {
            let from = self.nodes[x].node_id();
            self.nodes[y].feed(ManagerInput::PeerMessage { node_id: from, msg });
        }
        true
    }

    /// Delivers messages until none is left.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for x in 0..self.nodes.len() {
                while self.step(x) {
                    any = true;
                }
            }
            if !any {
                return;
            }
        }
        panic!("no convergence");
    }

    /// Node `x` asks node `y` for a channel of `funding` sat (1% pushed to
    /// `y`) under the temporary id `[temp; 32]`; returns that id.
    pub fn start_open(&mut self, x: usize, y: usize, temp: u8, funding: u64) -> ChannelId {
        let temporary_channel_id = ChannelId([temp; 32]);
        let peer = self.nodes[y].node_id();
        self.nodes[x].feed(ManagerInput::OpenChannel {
            node_id: peer,
            request: OpenRequest {
                temporary_channel_id,
                funding: Sat(funding),
                push: Msat(funding * 100),
                feerate: FeeratePerKw(2500),
                announce: false,
                peer_features: lnwasm_init_features(),
                our_features: lnwasm_init_features(),
                now: 1000,
            },
        });
        temporary_channel_id
    }
}
