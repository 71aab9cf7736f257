//! One connection to a Lightning peer, sans-IO (BOLT 1 over BOLT 8).
//!
//! [`PeerConnection`] is a state machine: the caller feeds it the bytes it
//! read ([`PeerConnection::read`]) and the current time
//! ([`PeerConnection::tick`]), writes out what [`PeerConnection::take_outbound`]
//! returns, and handles the [`PeerEvent`]s from [`PeerConnection::next_event`].
//! It never touches a socket or a clock; the transports in
//! [`crate::transport`] drive it.
//!
//! What it does on its own:
//!
//! * the Noise_XK handshake, as initiator ([`PeerConnection::outbound`]) or
//!   responder ([`PeerConnection::inbound`]);
//! * `init`: sends ours (features and the `networks` TLV for our chain)
//!   first, checks theirs with [`check_peer_init`] and the chain, and refuses
//!   an incompatible peer with a `warning` explaining why, then closes;
//! * `ping`: answers with [`respond_to_ping`] (no answer at or above 65532
//!   bytes), closes on ping floods; sends its own ping after
//!   [`PeerConfig::ping_interval`] of silence and closes when the pong does not
//!   come within [`PeerConfig::pong_timeout`];
//! * `warning` is reported; `error` is reported, and one for all channels
//!   (all-zero `channel_id`) closes the connection;
//! * unknown odd messages are ignored; unknown even ones (and undecodable
//!   ones) are answered with a `warning` and close the connection.
//!
//! Every other message is handed up as [`PeerEvent::Message`] for the
//! channel and gossip layers. Messages the caller sends before the peer's
//! `init` arrived are held back until then (BOLT 1: wait for `init`).
//!
//! Peer input never panics; buffers grow only with the bytes received
//! (handshake acts use a fixed buffer, frames are bounded by the
//! authenticated BOLT 8 length).

mod error;

use std::collections::VecDeque;
use std::time::Duration;

use bitcoin::constants::ChainHash;
use secp256k1::{PublicKey, SecretKey};

pub use error::{DisconnectReason, SendError};

use crate::noise::{
    Handshake, InitiatorHandshake, ResponderAwaitingActThree, ResponderHandshake, Transport,
    ACT_ONE_LEN, ACT_THREE_LEN, ACT_TWO_LEN,
};
use crate::wire::{
    check_peer_init, lnwasm_init_features, respond_to_ping, ChannelId, Features, Init, Message,
    NetAddress, Ping, WarningMessage,
};

/// A point in time: milliseconds on a monotonic clock chosen by the caller
/// (only differences matter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + d`, saturating.
    pub fn after(self, d: Duration) -> Millis {
        Millis(
            self.0
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )
    }

    /// Time from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Settings of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// The chain we are on: sent in `init`'s `networks`, and a peer whose
    /// `networks` omits it is refused.
    pub chain: ChainHash,
    /// The features we send in `init` (default [`lnwasm_init_features`]).
    pub features: Features,
    /// Time allowed for the handshake plus the `init` exchange.
    pub handshake_timeout: Duration,
    /// Silence after which we ping the peer (`None`: never ping on our own).
    pub ping_interval: Option<Duration>,
    /// Time a peer has to answer our ping before we disconnect.
    pub pong_timeout: Duration,
    /// Pings accepted from the peer per [`PING_FLOOD_WINDOW`] before we
    /// disconnect (BOLT 1 expects about one per 30 seconds).
    pub max_pings_per_window: u32,
}

/// The window over which [`PeerConfig::max_pings_per_window`] counts.
pub const PING_FLOOD_WINDOW: Duration = Duration::from_secs(30);

/// Padding of the pongs we ask for in our pings.
pub const OUR_PING_PONG_BYTES: u16 = 8;

impl PeerConfig {
    /// Defaults for `chain`: lnwasm's features, 10 s to finish the
    /// handshake and init, a ping after 30 s of silence, 10 s to answer it,
    /// at most 20 pings from the peer per 30 s.
    pub fn new(chain: ChainHash) -> Self {
        PeerConfig {
            chain,
            features: lnwasm_init_features(),
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            max_pings_per_window: 20,
        }
    }
}

/// Which side opened the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We connected (Noise initiator).
    Outbound,
    /// The peer connected to us (Noise responder).
    Inbound,
}

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// BOLT 8 acts are being exchanged.
    Handshake,
    /// Encrypted; our `init` is sent and the peer's is awaited.
    AwaitingInit,
    /// Both `init`s exchanged and accepted: messages flow.
    Ready,
    /// Closed; see [`PeerConnection::disconnect_reason`].
    Closed,
}

/// What the peer told us in its `init`, once accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's node id, authenticated by the handshake.
    pub node_id: PublicKey,
    /// `globalfeatures | features` from its `init`.
    pub features: Features,
    /// The chains it listed (`None` when it sent no `networks` TLV).
    pub networks: Option<Vec<ChainHash>>,
    /// Our address as the peer sees it, if it said.
    pub remote_addr: Option<NetAddress>,
}

/// What happened on the connection, in order.
// Short-lived values, moved once: boxing the message would cost an
// allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// Both `init`s were exchanged and the peer's was accepted.
    Connected(PeerInfo),
    /// A message for the layers above (channels, gossip).
    Message(Message),
    /// The peer answered our ping after `rtt`.
    Pong { rtt: Duration },
    /// The peer pinged us; `answered` is false for pings asking for 65532
    /// or more bytes, which BOLT 1 says to ignore.
    PingReceived { num_pong_bytes: u16, answered: bool },
    /// The peer sent a `warning` (text sanitised for display).
    Warning { channel_id: ChannelId, text: String },
    /// The peer sent an `error`. One for [`ChannelId::ALL`] is followed by
    /// [`PeerEvent::Disconnected`].
    Error { channel_id: ChannelId, text: String },
    /// The connection is closed; no events follow.
    Disconnected(DisconnectReason),
}

enum Phase {
    /// Responder waiting for act one.
    ActOne(ResponderHandshake),
    /// Initiator waiting for act two.
    ActTwo(InitiatorHandshake),
    /// Responder waiting for act three.
    ActThree(ResponderAwaitingActThree),
    AwaitingInit(Transport),
    Ready(Transport),
    Closed,
}

/// A connection to one peer; see the [module documentation](self).
pub struct PeerConnection {
    config: PeerConfig,
    direction: Direction,
    phase: Phase,
    /// Bytes of the act being received (acts are at most 66 bytes).
    act: [u8; ACT_THREE_LEN],
    act_filled: usize,
    node_id: Option<PublicKey>,
    info: Option<PeerInfo>,
    out: Vec<u8>,
    events: VecDeque<PeerEvent>,
    /// Encoded messages sent before the peer's `init` arrived.
    held: Vec<Vec<u8>>,
    handshake_deadline: Millis,
    last_received: Millis,
    /// When our unanswered ping was sent.
    ping_outstanding: Option<Millis>,
    ping_window_start: Millis,
    pings_in_window: u32,
    reason: Option<DisconnectReason>,
}

impl core::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("direction", &self.direction)
            .field("state", &self.state())
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    fn new(config: PeerConfig, direction: Direction, phase: Phase, now: Millis) -> Self {
        let handshake_deadline = now.after(config.handshake_timeout);
        PeerConnection {
            config,
            direction,
            phase,
            act: [0; ACT_THREE_LEN],
            act_filled: 0,
            node_id: None,
            info: None,
            out: Vec::new(),
            events: VecDeque::new(),
            held: Vec::new(),
            handshake_deadline,
            last_received: now,
            ping_outstanding: None,
            ping_window_start: now,
            pings_in_window: 0,
            reason: None,
        }
    }

    /// Starts a connection to `remote` (its node id) as Noise initiator;
    /// act one is ready in [`PeerConnection::take_outbound`]. `ephemeral`
    /// must be fresh randomness for this connection.
    pub fn outbound(
        config: PeerConfig,
        local_key: &SecretKey,
        remote: &PublicKey,
        ephemeral: &SecretKey,
        now: Millis,
    ) -> Self {
        let (hs, act_one) = Handshake::initiator(local_key, remote, ephemeral);
        let mut c = Self::new(config, Direction::Outbound, Phase::ActTwo(hs), now);
        c.node_id = Some(*remote);
        c.out.extend_from_slice(&act_one);
        c
    }

    /// Accepts a connection as Noise responder with our node key
    /// `local_key`. `ephemeral` must be fresh randomness for this connection.
    pub fn inbound(
        config: PeerConfig,
        local_key: &SecretKey,
        ephemeral: &SecretKey,
        now: Millis,
    ) -> Self {
        let hs = Handshake::responder(local_key, ephemeral);
        Self::new(config, Direction::Inbound, Phase::ActOne(hs), now)
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn state(&self) -> ConnectionState {
        match self.phase {
            Phase::ActOne(_) | Phase::ActTwo(_) | Phase::ActThree(_) => ConnectionState::Handshake,
            Phase::AwaitingInit(_) => ConnectionState::AwaitingInit,
            Phase::Ready(_) => ConnectionState::Ready,
            Phase::Closed => ConnectionState::Closed,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The peer's node id: known from the start when outbound, after act
    /// three when inbound.
    pub fn remote_node_id(&self) -> Option<PublicKey> {
        self.node_id
    }

    /// The peer's accepted `init`, once [`ConnectionState::Ready`].
    pub fn peer_info(&self) -> Option<&PeerInfo> {
        self.info.as_ref()
    }

    /// Why the connection closed, once closed.
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        self.reason.as_ref()
    }

    /// Bytes to write to the stream (and forgets them). After the
    /// connection closed this may still hold a final `warning`: write it,
    /// then close the stream.
    pub fn take_outbound(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    pub fn has_outbound(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// When [`PeerConnection::tick`] next has something to do (a timeout
    /// or a ping to send); `None` once closed.
    pub fn next_deadline(&self) -> Option<Millis> {
        match &self.phase {
            Phase::Closed => None,
            Phase::Ready(_) => match self.ping_outstanding {
                Some(sent) => Some(sent.after(self.config.pong_timeout)),
                None => self
                    .config
                    .ping_interval
                    .map(|i| self.last_received.after(i)),
            },
            _ => Some(self.handshake_deadline),
        }
    }

    /// Feeds bytes read from the stream (any chunking).
    pub fn read(&mut self, mut input: &[u8], now: Millis) {
        if self.is_closed() {
            return;
        }
        self.last_received = now;
        while !input.is_empty() && !self.is_closed() {
            let need = match self.phase {
                Phase::ActOne(_) => ACT_ONE_LEN,
                Phase::ActTwo(_) => ACT_TWO_LEN,
                Phase::ActThree(_) => ACT_THREE_LEN,
                Phase::AwaitingInit(_) | Phase::Ready(_) => {
                    self.read_frames(input, now);
                    return;
                }
                Phase::Closed => return,
            };
            let take = (need - self.act_filled).min(input.len());
            self.act[self.act_filled..self.act_filled + take].copy_from_slice(&input[..take]);
            self.act_filled += take;
            input = &input[take..];
            if self.act_filled == need {
                self.act_filled = 0;
                self.process_act(need);
            }
        }
    }

    fn process_act(&mut self, len: usize) {
        let act = self.act;
        let act = &act[..len];
        let result = match core::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::ActOne(hs) => hs.process_act_one(act).map(|(next, act_two)| {
                self.out.extend_from_slice(&act_two);
                self.phase = Phase::ActThree(next);
            }),
            Phase::ActTwo(hs) => hs.process_act_two(act).map(|(act_three, transport)| {
                self.out.extend_from_slice(&act_three);
                self.start_init(transport);
            }),
            Phase::ActThree(hs) => hs.process_act_three(act).map(|transport| {
                self.node_id = Some(transport.remote_static());
                self.start_init(transport);
            }),
            other => {
                self.phase = other;
                Ok(())
            }
        };
        if let Err(e) = result {
            self.fail(DisconnectReason::Noise(e), false);
        }
    }

    /// Handshake done: send our `init` and wait for theirs.
    fn start_init(&mut self, mut transport: Transport) {
        let init = Init {
            features: self.config.features.clone(),
            networks: Some(vec![self.config.chain]),
            ..Default::default()
        };
        match Message::Init(init).encode().and_then(|m| {
            transport
                .encrypt(&m)
                .map_err(|_| crate::wire::WireError::MessageTooLong)
        }) {
            Ok(frame) => {
                self.out.extend_from_slice(&frame);
                self.phase = Phase::AwaitingInit(transport);
            }
            // Only a feature vector of thousands of bytes could fail here.
            Err(e) => self.fail(DisconnectReason::Wire(e), false),
        }
    }

    fn transport(&mut self) -> Option<&mut Transport> {
        match &mut self.phase {
            Phase::AwaitingInit(t) | Phase::Ready(t) => Some(t),
            _ => None,
        }
    }

    fn read_frames(&mut self, input: &[u8], now: Millis) {
        let Some(t) = self.transport() else { return };
        match t.decrypt(input) {
            Ok(msgs) => {
                for m in msgs {
                    if self.is_closed() {
                        break;
                    }
                    self.handle_message(&m, now);
                }
            }
            Err(e) => self.fail(DisconnectReason::Noise(e), false),
        }
    }

    fn handle_message(&mut self, bytes: &[u8], now: Millis) {
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.fail(DisconnectReason::Wire(e), true),
        };
        let ready = self.is_ready();
        match msg {
            Message::Init(init) if !ready => self.accept_init(init),
            Message::Init(_) => self.fail(DisconnectReason::DuplicateInit, true),
            Message::Warning(w) => self.events.push_back(PeerEvent::Warning {
                channel_id: w.channel_id,
                text: w.text(),
            }),
            Message::Error(e) => {
                let text = e.text();
                self.events.push_back(PeerEvent::Error {
                    channel_id: e.channel_id,
                    text: text.clone(),
                });
                if e.channel_id.is_all() || !ready {
                    self.fail(DisconnectReason::PeerError(text), false);
                }
            }
            other if !ready => self.fail(
                DisconnectReason::FirstMessageNotInit {
                    msg_type: other.msg_type(),
                },
                true,
            ),
            Message::Ping(ping) => self.answer_ping(&ping, now),
            Message::Pong(pong) => {
                let expected = usize::from(OUR_PING_PONG_BYTES);
                match self.ping_outstanding.take() {
                    Some(sent) if pong.ignored.len() == expected => {
                        self.events.push_back(PeerEvent::Pong {
                            rtt: now.since(sent),
                        })
                    }
                    _ => self.fail(
                        DisconnectReason::UnexpectedPong {
                            len: pong.ignored.len(),
                        },
                        true,
                    ),
                }
            }
            // BOLT 1: ignore messages of unknown odd type.
            Message::Unknown { .. } => {}
            other => self.events.push_back(PeerEvent::Message(other)),
        }
    }

    fn accept_init(&mut self, init: Init) {
        let remote = init.combined_features();
        if let Err(e) = check_peer_init(&self.config.features, &remote) {
            return self.fail(DisconnectReason::Features(e), true);
        }
        if !init.supports_chain(&self.config.chain) {
            return self.fail(DisconnectReason::NoCommonChain, true);
        }
        let Phase::AwaitingInit(t) = core::mem::replace(&mut self.phase, Phase::Closed) else {
            return;
        };
        self.phase = Phase::Ready(t);
        let Some(node_id) = self.node_id else { return };
        let info = PeerInfo {
            node_id,
            features: remote,
            networks: init.networks,
            remote_addr: init.remote_addr,
        };
        self.info = Some(info.clone());
        self.events.push_back(PeerEvent::Connected(info));
        for m in core::mem::take(&mut self.held) {
            self.write_frame(&m);
        }
    }

    fn answer_ping(&mut self, ping: &Ping, now: Millis) {
        if now.since(self.ping_window_start) >= PING_FLOOD_WINDOW {
            self.ping_window_start = now;
            self.pings_in_window = 0;
        }
        self.pings_in_window += 1;
        if self.pings_in_window > self.config.max_pings_per_window {
            return self.fail(DisconnectReason::PingFlood, true);
        }
        let pong = respond_to_ping(ping);
        let answered = pong.is_some();
        if let Some(pong) = pong {
            self.write_message(&Message::Pong(pong));
        }
        self.events.push_back(PeerEvent::PingReceived {
            num_pong_bytes: ping.num_pong_bytes,
            answered,
        });
    }

    /// Encrypts an already encoded message into the outbound buffer.
    fn write_frame(&mut self, msg: &[u8]) {
        if let Some(t) = self.transport() {
            // `msg` was encoded, hence is at most 65535 bytes: cannot fail.
            if let Ok(frame) = t.encrypt(msg) {
                self.out.extend_from_slice(&frame);
            }
        }
    }

    fn write_message(&mut self, msg: &Message) {
        if let Ok(bytes) = msg.encode() {
            self.write_frame(&bytes);
        }
    }

    /// Closes the connection, first telling the peer why in a `warning`
    /// (all channels) when `warn` and the transport is up.
    fn fail(&mut self, reason: DisconnectReason, warn: bool) {
        if self.is_closed() && self.reason.is_some() {
            return;
        }
        if warn {
            let w = WarningMessage::new(ChannelId::ALL, &reason.to_string());
            self.write_message(&Message::Warning(w));
        }
        self.phase = Phase::Closed;
        self.held.clear();
        self.ping_outstanding = None;
        self.reason = Some(reason.clone());
        self.events.push_back(PeerEvent::Disconnected(reason));
    }

    /// Advances timers to `now`: handshake timeout, keepalive ping, pong
    /// timeout. Call it at [`PeerConnection::next_deadline`] (calling more
    /// often is harmless).
    pub fn tick(&mut self, now: Millis) {
        match self.phase {
            Phase::Closed => {}
            Phase::Ready(_) => match self.ping_outstanding {
                Some(sent) if now >= sent.after(self.config.pong_timeout) => {
                    self.fail(DisconnectReason::PongTimeout, false)
                }
                Some(_) => {}
                None => {
                    if let Some(i) = self.config.ping_interval {
                        if now >= self.last_received.after(i) {
                            self.send_ping(now);
                        }
                    }
                }
            },
            _ => {
                if now >= self.handshake_deadline {
                    self.fail(DisconnectReason::HandshakeTimeout, false);
                }
            }
        }
    }

    fn send_ping(&mut self, now: Millis) {
        self.write_message(&Message::Ping(Ping::new(OUR_PING_PONG_BYTES, 0)));
        self.ping_outstanding = Some(now);
    }

    /// Pings the peer now; [`PeerEvent::Pong`] reports the answer (or
    /// [`DisconnectReason::PongTimeout`] the lack of one). When a ping is
    /// already unanswered no second one is sent: its pong serves both.
    pub fn ping(&mut self, now: Millis) -> Result<(), SendError> {
        match self.phase {
            Phase::Closed => Err(SendError::Closed),
            Phase::Ready(_) => {
                if self.ping_outstanding.is_none() {
                    self.send_ping(now);
                }
                Ok(())
            }
            _ => Err(SendError::NotReady),
        }
    }

    /// Queues `msg` for the peer. Before the peer's `init` arrived it is
    /// held and sent right after. `init`, `ping` and `pong` are refused:
    /// the connection sends those itself (see [`PeerConnection::ping`]).
    pub fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        match msg {
            Message::Init(_) => return Err(SendError::Reserved("init")),
            Message::Ping(_) => return Err(SendError::Reserved("ping")),
            Message::Pong(_) => return Err(SendError::Reserved("pong")),
            _ => {}
        }
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let bytes = msg.encode().map_err(SendError::Encode)?;
        if self.is_ready() {
            self.write_frame(&bytes);
        } else {
            self.held.push(bytes);
        }
        Ok(())
    }

    /// The byte stream ended (EOF or a transport error).
    pub fn stream_closed(&mut self) {
        if !self.is_closed() {
            self.fail(DisconnectReason::StreamClosed, false);
        }
    }

    /// Closes the connection from our side (no message is sent: BOLT 1
    /// has none for a plain disconnect). Flush
    /// [`PeerConnection::take_outbound`], then close the stream.
    pub fn close(&mut self) {
        if !self.is_closed() {
            self.fail(DisconnectReason::LocalClose, false);
        }
    }

    /// Closes the connection after sending a `warning` with `text` (for
    /// all channels) when the transport is up.
    pub fn close_with_warning(&mut self, text: &str) {
        if !self.is_closed() {
            let w = WarningMessage::new(ChannelId::ALL, text);
            self.write_message(&Message::Warning(w));
            self.fail(DisconnectReason::LocalClose, false);
        }
    }
}
