//! A test's lnwasm node: a [`Node`] whose actions the test carries out
//! itself (`carry_out`), with the node's entry points wrapped to do so.
//! Shared by the tests that drive a node against LDK (natively and in the
//! browser); include with `mod node_driver;`.

use bitcoin::ScriptBuf;
use lnwasm::channel::{Command, Event, ManagerEvent, OpenRequest};
use lnwasm::node::{Node, NodeAction, NodeInput};
use lnwasm::tx::FeeratePerKw;
use lnwasm::types::{Msat, Sat};
use lnwasm::wire::features::Features;
use lnwasm::wire::ChannelId;
use secp256k1::PublicKey;

/// The opening of an unannounced channel of `funding`, pushing `push`, at
/// 1000 sat/kw.
pub fn open_request(
    temporary_channel_id: ChannelId,
    funding: Sat,
    push: Msat,
    now: u64,
) -> OpenRequest {
    OpenRequest {
        temporary_channel_id,
        funding,
        push,
        feerate: FeeratePerKw(1000),
        announce: false,
        peer_features: Features::empty(),
        our_features: Features::empty(),
        now,
    }
}

/// The funding output the channel being opened as `temporary_channel_id`
/// asked for, once among `events`.
pub fn funding_required(
    events: &[ManagerEvent],
    temporary_channel_id: ChannelId,
) -> Option<(ScriptBuf, Sat)> {
    events.iter().find_map(|e| match e {
        ManagerEvent::Channel {
            event:
                Event::FundingRequired {
                    temporary_channel_id: t,
                    script_pubkey,
                    amount,
                },
            ..
        } if *t == temporary_channel_id => Some((script_pubkey.clone(), *amount)),
        _ => None,
    })
}

pub trait DriveNode {
    fn node_mut(&mut self) -> &mut Node;

    /// Carries out the node's actions in order.
    fn carry_out(&mut self, acts: Vec<NodeAction>);

    /// Hands the node one input and carries out its actions.
    fn input(&mut self, i: NodeInput) {
        let acts = self.node_mut().handle(i);
        self.carry_out(acts);
    }

    /// Opens a channel through the node's own entry point and carries out
    /// its actions.
    fn open(&mut self, node_id: PublicKey, request: OpenRequest) {
        let acts = self
            .node_mut()
            .open_channel(node_id, request.clone())
            .unwrap_or_else(|e| panic!("lnwasm's node refused to open {request:?}: {e}"));
        self.carry_out(acts);
    }

    /// Gives a channel a command through the node's own entry point and
    /// carries out its actions.
    fn command(&mut self, channel_id: ChannelId, command: Command) {
        let acts = self
            .node_mut()
            .command(channel_id, command.clone())
            .unwrap_or_else(|e| panic!("lnwasm's node refused {command:?} on {channel_id:?}: {e}"));
        self.carry_out(acts);
    }
}
