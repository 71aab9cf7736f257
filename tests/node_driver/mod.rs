//! A test's lnwasm node: a [`Node`] whose actions the test carries out
//! itself (`carry_out`), with the node's entry points wrapped to do so.
//! Shared by the tests that drive a node against LDK (natively and in the
//! browser); include with `mod node_driver;`.

use lnwasm::channel::{Command, OpenRequest};
use lnwasm::node::{Node, NodeAction, NodeInput};
use lnwasm::wire::ChannelId;
use secp256k1::PublicKey;

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
