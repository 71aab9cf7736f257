//! The sans-IO peer connection: two `PeerConnection`s wired back to back in
//! memory, and a hand-driven "raw" peer (Noise + arbitrary plaintext) for
//! hostile input: garbage and truncated acts, wrong features and chains,
//! unknown messages, bad pings and pongs, floods, random bytes.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::time::Duration;

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnwasm::error::ErrorCode;
use lnwasm::noise::{Handshake, NoiseError, Transport, ACT_ONE_LEN, ACT_TWO_LEN};
use lnwasm::peer::{
    ConnectionState, DisconnectReason, Millis, PeerConfig, PeerConnection, PeerEvent, SendError,
    OUR_PING_PONG_BYTES,
};
use lnwasm::wire::{
    lnwasm_init_features, ChannelId, ErrorMessage, Feature, FeatureError, Features,
    GossipTimestampFilter, Init, Message, Ping, Pong, WarningMessage, WireError, WireMessage,
};

macro_rules! tests {
    ($($(#[$m:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$m])*
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        fn $name() $body
    )*};
}

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

fn pubkey(k: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), k)
}

const T0: Millis = Millis(1_000_000);

fn cfg() -> PeerConfig {
    PeerConfig::new(ChainHash::REGTEST)
}

/// A (outbound) connects to B (inbound).
fn pair(a_cfg: PeerConfig, b_cfg: PeerConfig) -> (PeerConnection, PeerConnection) {
    let a = PeerConnection::outbound(a_cfg, &key(1), &pubkey(&key(2)), &key(11), T0);
    let b = PeerConnection::inbound(b_cfg, &key(2), &key(12), T0);
    (a, b)
}

/// Moves bytes both ways until neither has anything to write.
fn pump(a: &mut PeerConnection, b: &mut PeerConnection, now: Millis) {
    for _ in 0..100 {
        let x = a.take_outbound();
        let y = b.take_outbound();
        if x.is_empty() && y.is_empty() {
            return;
        }
        b.read(&x, now);
        a.read(&y, now);
    }
    panic!("pump did not settle");
}

fn events(c: &mut PeerConnection) -> Vec<PeerEvent> {
    std::iter::from_fn(|| c.next_event()).collect()
}

fn connected() -> (PeerConnection, PeerConnection) {
    let (mut a, mut b) = pair(cfg(), cfg());
    pump(&mut a, &mut b, T0);
    assert!(a.is_ready() && b.is_ready());
    events(&mut a);
    events(&mut b);
    (a, b)
}

fn disconnect_reason(evs: &[PeerEvent]) -> Option<DisconnectReason> {
    match evs.last() {
        Some(PeerEvent::Disconnected(r)) => Some(r.clone()),
        _ => None,
    }
}

/// A peer driven by hand: the Noise handshake with a `PeerConnection`
/// (inbound), then any plaintext we like.
struct Raw {
    t: Transport,
    conn: PeerConnection,
}

impl Raw {
    /// Handshake only; `conn` awaits our init.
    fn handshaken(conn_cfg: PeerConfig) -> Raw {
        let mut conn = PeerConnection::inbound(conn_cfg, &key(2), &key(12), T0);
        let (hs, act_one) = Handshake::initiator(&key(1), &pubkey(&key(2)), &key(11));
        conn.read(&act_one, T0);
        let act_two = conn.take_outbound();
        assert_eq!(act_two.len(), ACT_TWO_LEN);
        let (act_three, mut t) = hs.process_act_two(&act_two).unwrap();
        conn.read(&act_three, T0);
        assert_eq!(conn.state(), ConnectionState::AwaitingInit);
        // conn sent its init first.
        let msgs = t.decrypt(&conn.take_outbound()).unwrap();
        assert_eq!(msgs.len(), 1);
        let Message::Init(init) = Message::decode(&msgs[0]).unwrap() else {
            panic!()
        };
        assert_eq!(init.features, lnwasm_init_features());
        assert_eq!(init.networks, Some(vec![ChainHash::REGTEST]));
        Raw { t, conn }
    }

    /// Handshake and a good init: `conn` is ready.
    fn ready() -> Raw {
        let mut r = Raw::handshaken(cfg());
        r.send(&Init::new(lnwasm_init_features()).encode().unwrap());
        assert!(r.conn.is_ready());
        let evs = events(&mut r.conn);
        assert!(matches!(evs[..], [PeerEvent::Connected(_)]), "{evs:?}");
        r
    }

    fn send(&mut self, plaintext: &[u8]) {
        let frame = self.t.encrypt(plaintext).unwrap();
        self.conn.read(&frame, T0);
    }

    fn send_at(&mut self, plaintext: &[u8], now: Millis) {
        let frame = self.t.encrypt(plaintext).unwrap();
        self.conn.read(&frame, now);
    }

    /// The messages `conn` wrote back.
    fn received(&mut self) -> Vec<Message> {
        let out = self.conn.take_outbound();
        self.t
            .decrypt(&out)
            .unwrap()
            .iter()
            .map(|m| Message::decode(m).unwrap())
            .collect()
    }
}

fn warning_text(msgs: &[Message]) -> String {
    match msgs {
        [Message::Warning(w)] => {
            assert!(w.channel_id.is_all());
            w.text()
        }
        other => panic!("expected one warning, got {other:?}"),
    }
}

/// A tiny deterministic generator for the random-input tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

tests! {
    fn handshake_and_init_exchange_both_directions() {
        let (mut a, mut b) = pair(cfg(), cfg());
        assert_eq!(a.state(), ConnectionState::Handshake);
        assert_eq!(a.remote_node_id(), Some(pubkey(&key(2))));
        assert_eq!(b.remote_node_id(), None);
        pump(&mut a, &mut b, T0);
        for (c, other) in [(&mut a, key(2)), (&mut b, key(1))] {
            assert_eq!(c.state(), ConnectionState::Ready);
            let evs = events(c);
            let [PeerEvent::Connected(info)] = &evs[..] else { panic!("{evs:?}") };
            assert_eq!(info.node_id, pubkey(&other));
            assert_eq!(info.features, lnwasm_init_features());
            assert_eq!(info.networks, Some(vec![ChainHash::REGTEST]));
            assert_eq!(c.peer_info(), Some(info));
        }
    }

    fn handshake_survives_one_byte_chunks() {
        let (mut a, mut b) = pair(cfg(), cfg());
        for _ in 0..10 {
            for byte in a.take_outbound() {
                b.read(&[byte], T0);
            }
            for byte in b.take_outbound() {
                a.read(&[byte], T0);
            }
        }
        assert!(a.is_ready() && b.is_ready());
    }

    fn messages_flow_and_early_ones_wait_for_init() {
        let (mut a, mut b) = pair(cfg(), cfg());
        let filter = Message::GossipTimestampFilter(GossipTimestampFilter {
            chain_hash: ChainHash::REGTEST,
            first_timestamp: 1,
            timestamp_range: u32::MAX,
        });
        // Sent before the handshake: held until B's init arrived.
        a.send(&filter).unwrap();
        pump(&mut a, &mut b, T0);
        let evs = events(&mut b);
        assert!(matches!(evs[0], PeerEvent::Connected(_)));
        assert_eq!(evs[1], PeerEvent::Message(filter.clone()));
        b.send(&filter).unwrap();
        pump(&mut a, &mut b, T0);
        let evs = events(&mut a);
        assert_eq!(evs.last(), Some(&PeerEvent::Message(filter)));
    }

    fn send_refuses_reserved_messages() {
        let (mut a, _) = connected();
        assert_eq!(a.send(&Message::Init(Init::default())), Err(SendError::Reserved("init")));
        assert_eq!(a.send(&Message::Ping(Ping::new(1, 0))), Err(SendError::Reserved("ping")));
        let e = a.send(&Message::Pong(Pong { ignored: vec![] })).unwrap_err();
        assert_eq!(e.code(), "RESERVED_MESSAGE");
        let (mut x, _) = pair(cfg(), cfg());
        assert_eq!(x.ping(T0), Err(SendError::NotReady));
        a.close();
        assert_eq!(a.send(&Message::Warning(WarningMessage::new(ChannelId::ALL, "x"))), Err(SendError::Closed));
        assert_eq!(a.ping(T0), Err(SendError::Closed));
    }

    fn ping_pong_both_ways_with_rtt() {
        let (mut a, mut b) = connected();
        a.ping(T0).unwrap();
        a.ping(T0).unwrap(); // one ping in flight: no second one
        let later = Millis(T0.0 + 250);
        b.read(&a.take_outbound(), later);
        assert_eq!(
            events(&mut b),
            vec![PeerEvent::PingReceived { num_pong_bytes: OUR_PING_PONG_BYTES, answered: true }]
        );
        a.read(&b.take_outbound(), Millis(T0.0 + 500));
        assert_eq!(events(&mut a), vec![PeerEvent::Pong { rtt: Duration::from_millis(500) }]);
        b.ping(T0).unwrap();
        pump(&mut a, &mut b, T0);
        assert!(matches!(events(&mut b)[..], [PeerEvent::Pong { .. }]));
        assert!(matches!(events(&mut a)[..], [PeerEvent::PingReceived { answered: true, .. }]));
    }

    fn keepalive_ping_after_silence_and_pong_timeout() {
        let (mut a, mut b) = connected();
        let interval = cfg().ping_interval.unwrap();
        assert_eq!(a.next_deadline(), Some(T0.after(interval)));
        a.tick(Millis(T0.0 + 1));
        assert!(!a.has_outbound());
        // Silence for the interval: A pings; B answers; all is well.
        let t1 = T0.after(interval);
        a.tick(t1);
        b.tick(t1);
        pump(&mut a, &mut b, t1);
        assert!(matches!(events(&mut a)[..], [PeerEvent::PingReceived { .. }, PeerEvent::Pong { .. }]));
        // Next round: B's pong never reaches A.
        let t2 = t1.after(interval);
        a.tick(t2);
        assert!(a.has_outbound());
        let _lost = a.take_outbound();
        assert_eq!(a.next_deadline(), Some(t2.after(cfg().pong_timeout)));
        a.tick(t2.after(cfg().pong_timeout - Duration::from_millis(1)));
        assert!(a.is_ready());
        a.tick(t2.after(cfg().pong_timeout));
        assert!(a.is_closed());
        let evs = events(&mut a);
        assert_eq!(disconnect_reason(&evs), Some(DisconnectReason::PongTimeout));
        assert_eq!(DisconnectReason::PongTimeout.code(), "PONG_TIMEOUT");
        assert_eq!(a.next_deadline(), None);
    }

    fn no_keepalive_when_disabled() {
        let mut c = cfg();
        c.ping_interval = None;
        let (mut a, mut b) = pair(c, cfg());
        pump(&mut a, &mut b, T0);
        a.tick(Millis(u64::MAX));
        assert!(a.is_ready() && !a.has_outbound());
    }

    fn handshake_timeout() {
        let (mut a, mut b) = pair(cfg(), cfg());
        let act_one = a.take_outbound();
        b.read(&act_one[..ACT_ONE_LEN - 1], T0); // truncated act one
        assert_eq!(b.state(), ConnectionState::Handshake);
        b.tick(T0.after(Duration::from_secs(9)));
        assert!(!b.is_closed());
        b.tick(T0.after(Duration::from_secs(10)));
        assert_eq!(disconnect_reason(&events(&mut b)), Some(DisconnectReason::HandshakeTimeout));
        // A never saw act two either.
        a.tick(T0.after(Duration::from_secs(10)));
        assert_eq!(a.disconnect_reason(), Some(&DisconnectReason::HandshakeTimeout));
        // Also when the acts were done but init never came.
        let mut r = Raw::handshaken(cfg());
        r.conn.tick(T0.after(Duration::from_secs(10)));
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::HandshakeTimeout));
    }

    fn truncated_acts_then_stream_closed() {
        let (mut a, mut b) = pair(cfg(), cfg());
        b.read(&a.take_outbound(), T0);
        let act_two = b.take_outbound();
        a.read(&act_two[..10], T0);
        assert_eq!(a.state(), ConnectionState::Handshake);
        a.stream_closed();
        assert_eq!(disconnect_reason(&events(&mut a)), Some(DisconnectReason::StreamClosed));
        assert_eq!(a.disconnect_reason().unwrap().code(), "CONNECTION_CLOSED");
        // Input after close is ignored.
        a.read(&act_two[10..], T0);
        assert!(events(&mut a).is_empty());
    }

    fn garbage_handshake_acts_are_refused() {
        // Wrong version byte in act one.
        let (mut a, mut b) = pair(cfg(), cfg());
        let mut act_one = a.take_outbound();
        act_one[0] = 1;
        b.read(&act_one, T0);
        assert_eq!(
            disconnect_reason(&events(&mut b)),
            Some(DisconnectReason::Noise(NoiseError::BadVersion { act: 1, version: 1 }))
        );
        assert!(!b.has_outbound());
        // A flipped MAC bit in act two.
        let (mut a, mut b) = pair(cfg(), cfg());
        b.read(&a.take_outbound(), T0);
        let mut act_two = b.take_outbound();
        act_two[49] ^= 1;
        a.read(&act_two, T0);
        assert_eq!(
            disconnect_reason(&events(&mut a)),
            Some(DisconnectReason::Noise(NoiseError::BadTag { act: 2 }))
        );
        // Random bytes of every length at every stage: never a panic,
        // always a close or a wait.
        let mut rng = Rng(0x5eed);
        for n in 0..200 {
            let (mut a, mut b) = pair(cfg(), cfg());
            let junk = rng.bytes(n);
            b.read(&junk, T0);
            b.read(&a.take_outbound(), T0);
            a.read(&junk, T0);
            pump(&mut a, &mut b, T0);
            assert!(!(a.is_ready() && n >= ACT_ONE_LEN));
        }
    }

    fn a_peer_lacking_a_required_feature_is_refused_with_a_warning() {
        let mut bad = cfg();
        bad.features = Features::from_bits(&[0, 8, 12, 14]); // no channel_type
        let (mut a, mut b) = pair(cfg(), bad);
        pump(&mut a, &mut b, T0);
        let reason = DisconnectReason::Features(FeatureError::MissingRequired(Feature::ChannelType));
        assert_eq!(disconnect_reason(&events(&mut a)), Some(reason.clone()));
        assert_eq!(reason.code(), "PEER_LACKS_REQUIRED_FEATURE");
        // B refuses A too: A requires what B does not know.
        assert_eq!(
            b.disconnect_reason(),
            Some(&DisconnectReason::Features(FeatureError::UnsupportedRequired {
                bit: 44,
                feature: Some(Feature::ChannelType)
            }))
        );
        // The warning A sends says why.
        let mut r = Raw::handshaken(cfg());
        r.send(&Init::new(Features::from_bits(&[0, 8, 12, 14])).encode().unwrap());
        assert_eq!(r.conn.disconnect_reason(), Some(&reason));
        let text = warning_text(&r.received());
        assert!(text.contains("option_channel_type"), "{text}");
    }

    fn a_peer_requiring_an_unknown_feature_is_refused() {
        let mut r = Raw::handshaken(cfg());
        let mut f = lnwasm_init_features();
        f.set_bit(100);
        r.send(&Init::new(f).encode().unwrap());
        assert_eq!(
            r.conn.disconnect_reason(),
            Some(&DisconnectReason::Features(FeatureError::UnsupportedRequired { bit: 100, feature: None }))
        );
        assert!(warning_text(&r.received()).contains("bit 100"));
        // Unknown odd bits are fine, and legacy global features count.
        let mut r = Raw::handshaken(cfg());
        let mut f = lnwasm_init_features();
        f.set_bit(101);
        f.clear(Feature::DataLossProtect);
        let init = Init { global_features: Features::from_bits(&[0]), ..Init::new(f) };
        r.send(&init.encode().unwrap());
        assert!(r.conn.is_ready());
        assert!(r.conn.peer_info().unwrap().features.has_bit(0));
    }

    fn a_peer_on_another_chain_is_refused() {
        let (mut a, mut b) = pair(cfg(), PeerConfig::new(ChainHash::BITCOIN));
        pump(&mut a, &mut b, T0);
        assert_eq!(a.disconnect_reason(), Some(&DisconnectReason::NoCommonChain));
        assert_eq!(b.disconnect_reason(), Some(&DisconnectReason::NoCommonChain));
        // No networks TLV at all: accepted.
        let mut r = Raw::handshaken(cfg());
        r.send(&Init { networks: None, ..Init::new(lnwasm_init_features()) }.encode().unwrap());
        assert!(r.conn.is_ready());
        // Several networks, ours among them: accepted.
        let mut r = Raw::handshaken(cfg());
        let nets = Some(vec![ChainHash::BITCOIN, ChainHash::REGTEST]);
        r.send(&Init { networks: nets, ..Init::new(lnwasm_init_features()) }.encode().unwrap());
        assert!(r.conn.is_ready());
    }

    fn first_message_must_be_init() {
        let mut r = Raw::handshaken(cfg());
        r.send(&Ping::new(1, 0).encode().unwrap());
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::FirstMessageNotInit { msg_type: 18 }));
        warning_text(&r.received());
        // A warning before init is reported and tolerated.
        let mut r = Raw::handshaken(cfg());
        r.send(&WarningMessage::new(ChannelId::ALL, "hello\x07").encode().unwrap());
        assert_eq!(events(&mut r.conn), vec![PeerEvent::Warning { channel_id: ChannelId::ALL, text: "hello".into() }]);
        assert_eq!(r.conn.state(), ConnectionState::AwaitingInit);
        // An error before init ends it with the peer's reason.
        r.send(&ErrorMessage::new(ChannelId([7; 32]), "go away").encode().unwrap());
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::PeerError("go away".into())));
        assert!(r.received().is_empty());
    }

    fn duplicate_init_closes() {
        let mut r = Raw::ready();
        r.send(&Init::new(lnwasm_init_features()).encode().unwrap());
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::DuplicateInit));
    }

    fn unknown_odd_messages_are_ignored_unknown_even_ones_close() {
        let mut r = Raw::ready();
        r.send(&[0x80, 0x01, 1, 2, 3]); // type 32769
        r.send(&[0x00, 0x65]); // type 101, empty
        assert!(r.conn.is_ready());
        assert!(events(&mut r.conn).is_empty());
        assert!(!r.conn.has_outbound());
        r.send(&[0x00, 0x64, 9, 9]); // type 100
        let reason = DisconnectReason::Wire(WireError::UnknownEvenMessage(100));
        assert_eq!(r.conn.disconnect_reason(), Some(&reason));
        assert_eq!(reason.code(), "UNKNOWN_EVEN_MESSAGE");
        assert!(warning_text(&r.received()).contains("unknown even message type 100"));
    }

    fn truncated_or_empty_messages_close() {
        for bad in [&[][..], &[0x00][..], &[0x00, 0x12, 0x00][..], &[0x00, 0x12, 0x00, 0x01, 0x00, 0x05, 0, 0][..]] {
            let mut r = Raw::ready();
            r.send(bad);
            assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::Wire(WireError::ShortRead)), "{bad:?}");
            warning_text(&r.received());
        }
    }

    fn ping_rules() {
        let mut r = Raw::ready();
        // The largest answerable ping, and ones that must be ignored.
        r.send(&Ping::new(65531, 0).encode().unwrap());
        let msgs = r.received();
        let [Message::Pong(p)] = &msgs[..] else { panic!() };
        assert_eq!(p.ignored.len(), 65531);
        assert!(p.ignored.iter().all(|b| *b == 0));
        for n in [65532, 65535] {
            r.send(&Ping::new(n, 65000).encode().unwrap());
            assert!(r.received().is_empty());
        }
        let evs = events(&mut r.conn);
        assert_eq!(evs[2], PeerEvent::PingReceived { num_pong_bytes: 65535, answered: false });
        assert!(r.conn.is_ready());
    }

    fn ping_flood_closes() {
        let mut r = Raw::ready();
        let ping = Ping::new(0, 0).encode().unwrap();
        for _ in 0..20 {
            r.send(&ping);
        }
        assert!(r.conn.is_ready());
        // A new window starts after 30 s.
        r.send_at(&ping, T0.after(Duration::from_secs(30)));
        assert!(r.conn.is_ready());
        r.received();
        for _ in 0..20 {
            r.send_at(&ping, T0.after(Duration::from_secs(31)));
        }
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::PingFlood));
        let msgs = r.received();
        assert!(matches!(msgs.last(), Some(Message::Warning(_))));
    }

    fn unexpected_pongs_close() {
        let mut r = Raw::ready();
        r.send(&Pong { ignored: vec![0; usize::from(OUR_PING_PONG_BYTES)] }.encode().unwrap());
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::UnexpectedPong { len: 8 }));
        let mut r = Raw::ready();
        r.conn.ping(T0).unwrap();
        r.received();
        r.send(&Pong { ignored: vec![0; 3] }.encode().unwrap());
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::UnexpectedPong { len: 3 }));
    }

    fn warnings_and_errors() {
        let mut r = Raw::ready();
        r.send(&WarningMessage::new(ChannelId([1; 32]), "careful").encode().unwrap());
        r.send(&ErrorMessage::new(ChannelId([2; 32]), "channel 2 failed").encode().unwrap());
        assert!(r.conn.is_ready());
        assert_eq!(
            events(&mut r.conn),
            vec![
                PeerEvent::Warning { channel_id: ChannelId([1; 32]), text: "careful".into() },
                PeerEvent::Error { channel_id: ChannelId([2; 32]), text: "channel 2 failed".into() },
            ]
        );
        r.send(&ErrorMessage { channel_id: ChannelId::ALL, data: vec![b'x', 0xff, b'\n'] }.encode().unwrap());
        let evs = events(&mut r.conn);
        assert_eq!(evs[0], PeerEvent::Error { channel_id: ChannelId::ALL, text: "x\u{fffd}".into() });
        assert_eq!(evs[1], PeerEvent::Disconnected(DisconnectReason::PeerError("x\u{fffd}".into())));
        assert_eq!(evs.len(), 2);
        assert!(r.received().is_empty());
    }

    fn tampered_frames_close_without_reply() {
        let mut r = Raw::ready();
        let mut frame = r.t.encrypt(&Ping::new(1, 0).encode().unwrap()).unwrap();
        frame[20] ^= 1;
        r.conn.read(&frame, T0);
        assert_eq!(r.conn.disconnect_reason(), Some(&DisconnectReason::Noise(NoiseError::BadMessageTag)));
        assert!(!r.conn.has_outbound());
    }

    fn random_input_never_panics() {
        let mut rng = Rng(42);
        for i in 0..300 {
            // Random plaintext messages over a good transport...
            let mut r = Raw::ready();
            let n = (rng.next() % 80) as usize;
            let mut msg = rng.bytes(n);
            if n >= 2 && i % 2 == 0 {
                // ...often with a known message type.
                let types = [1u16, 16, 17, 18, 19, 32, 33, 36, 38, 128, 132, 256, 258, 265];
                let t = types[(rng.next() % types.len() as u64) as usize];
                msg[..2].copy_from_slice(&t.to_be_bytes());
            }
            r.send(&msg);
            events(&mut r.conn);
            // ...and random bytes as frames.
            let mut r = Raw::ready();
            let n = (rng.next() % 100) as usize;
            let junk = rng.bytes(n);
            r.conn.read(&junk, T0);
            assert!(r.conn.pending_ok());
        }
    }

    fn close_is_final_and_clean() {
        let (mut a, mut b) = connected();
        a.close();
        assert!(!a.has_outbound());
        assert_eq!(events(&mut a), vec![PeerEvent::Disconnected(DisconnectReason::LocalClose)]);
        a.close();
        a.stream_closed();
        assert!(events(&mut a).is_empty());
        b.stream_closed();
        assert_eq!(events(&mut b), vec![PeerEvent::Disconnected(DisconnectReason::StreamClosed)]);
        // close_with_warning tells the peer.
        let (mut a, mut b) = connected();
        a.close_with_warning("bye");
        b.read(&a.take_outbound(), T0);
        assert_eq!(events(&mut b), vec![PeerEvent::Warning { channel_id: ChannelId::ALL, text: "bye".into() }]);
    }
}

trait PendingOk {
    fn pending_ok(&self) -> bool;
}

impl PendingOk for PeerConnection {
    /// Either still up or closed with a reason; never a half state.
    fn pending_ok(&self) -> bool {
        self.is_ready() || self.disconnect_reason().is_some()
    }
}
