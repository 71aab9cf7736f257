//! Acceptance against an independent implementation: LDK (via the
//! workspace's `ldk-peer`, an in-memory LDK node on 127.0.0.1) and lnwasm's
//! peer connection over native TCP, in both directions: BOLT 8 handshake,
//! `init` exchange with feature negotiation (each side's view checked),
//! ping/pong both ways, clean disconnect; and refusals on incompatible
//! features or chains.
#![cfg(not(target_arch = "wasm32"))]

use std::net::TcpListener;
use std::time::Duration;

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use ldk_peer::{Config, LdkNode, NodeEvent};
use lnwasm::peer::{DisconnectReason, PeerConfig, PeerEvent};
use lnwasm::transport::tcp::{self, TcpPeer};
use lnwasm::transport::{random_secret_key, PeerUri, TransportError};
use lnwasm::wire::{lnwasm_init_features, Feature, FeatureError, Features};

const T: Duration = Duration::from_secs(10);

/// An LDK node that never pings on its own: the tests tick it by hand.
async fn ldk(seed: u8) -> LdkNode {
    let config = Config {
        peer_tick: Duration::from_secs(3600),
        ..Config::with_seed_byte(seed)
    };
    LdkNode::start(config).await.expect("LDK node starts")
}

fn lnwasm_config() -> PeerConfig {
    let mut c = PeerConfig::new(ChainHash::REGTEST);
    c.ping_interval = None; // the tests ping by hand
    c
}

fn pubkey(k: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), k)
}

/// LDK's feature vectors as lnwasm `Features` (LDK keeps them little-endian).
fn from_ldk(f: &ldk_peer::lightning::types::features::InitFeatures) -> Features {
    let mut be = f.le_flags().to_vec();
    be.reverse();
    Features::from_wire_bytes(&be)
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// Both pings: lnwasm pings LDK and gets a pong (LDK's log counts the ping
/// in and the pong out); LDK pings lnwasm, lnwasm answers, and LDK counts
/// the pong in and keeps the peer through two more ticks (it drops peers
/// that leave a ping unanswered for a tick).
async fn ping_both_ways(node: &LdkNode, mut peer: TcpPeer, our_id: PublicKey) -> TcpPeer {
    let (rtt, mut peer) = blocking(move || (peer.ping(T), peer)).await;
    let rtt = rtt.expect("LDK answers lnwasm's ping");
    assert!(rtt < T);
    let stats = node
        .wait_for_ping_stats(&our_id, T, |s| s.pings_received >= 1)
        .await;
    assert!(
        stats.is_some(),
        "LDK saw our ping: {:?}",
        node.ping_stats(&our_id)
    );

    for round in 1..=2u64 {
        node.ping_peers();
        let (ev, p) = blocking(move || {
            let mut found = None;
            while let Some(e) = peer.next_event(T) {
                if matches!(e, PeerEvent::PingReceived { .. }) {
                    found = Some(e);
                    break;
                }
            }
            // Keep pumping briefly so the pong goes out.
            peer.next_event(Duration::from_millis(50));
            (found, peer)
        })
        .await;
        peer = p;
        assert_eq!(
            ev,
            Some(PeerEvent::PingReceived {
                num_pong_bytes: 0,
                answered: true
            }),
            "lnwasm sees LDK's ping"
        );
        let stats = node
            .wait_for_ping_stats(&our_id, T, |s| s.pongs_received >= round)
            .await;
        assert!(
            stats.is_some(),
            "LDK got lnwasm's pong: {:?}",
            node.ping_stats(&our_id)
        );
    }
    // A tick after the answered pings: LDK keeps the peer.
    node.ping_peers();
    let mut peer = blocking(move || {
        peer.next_event(Duration::from_millis(300));
        peer
    })
    .await;
    assert!(
        node.peer(&our_id).is_some(),
        "LDK kept lnwasm after its pongs"
    );
    assert!(peer.is_connected());
    let events = blocking(move || {
        let mut evs = Vec::new();
        while let Some(e) = peer.next_event(Duration::from_millis(100)) {
            evs.push(e);
        }
        (evs, peer)
    })
    .await;
    let (evs, peer) = events;
    assert!(
        evs.iter()
            .all(|e| matches!(e, PeerEvent::PingReceived { answered: true, .. })),
        "{evs:?}"
    );
    peer
}

/// What each side saw of the other's features.
fn check_features(node: &LdkNode, ours_seen_by_ldk: &Features, theirs_seen_by_us: &Features) {
    assert_eq!(
        ours_seen_by_ldk,
        &lnwasm_init_features(),
        "LDK sees lnwasm's init features"
    );
    assert_eq!(
        theirs_seen_by_us,
        &from_ldk(&node.our_init_features()),
        "lnwasm sees LDK's"
    );
    for f in [
        Feature::DataLossProtect,
        Feature::VarOnionOptin,
        Feature::StaticRemoteKey,
        Feature::PaymentSecret,
        Feature::ChannelType,
    ] {
        assert!(theirs_seen_by_us.supports(f), "LDK supports {f}");
    }
    // Negotiated: what both offer.
    for f in [Feature::BasicMpp, Feature::ShutdownAnySegwit] {
        assert!(
            theirs_seen_by_us.mutually_supports(&lnwasm_init_features(), f),
            "{f} negotiated"
        );
    }
    // LDK offers anchors; lnwasm's default features do not.
    assert!(theirs_seen_by_us.supports(Feature::AnchorsZeroFeeHtlcTx));
    assert!(!theirs_seen_by_us
        .mutually_supports(&lnwasm_init_features(), Feature::AnchorsZeroFeeHtlcTx));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnwasm_connects_to_ldk() {
    let node = ldk(1).await;
    let uri = PeerUri::parse(&node.uri()).unwrap();
    assert_eq!(uri.node_id, node.node_id());
    let key = random_secret_key();
    let our_id = pubkey(&key);

    let (peer, info) = blocking(move || tcp::connect(&uri, &key, lnwasm_config(), T))
        .await
        .expect("handshake and init with LDK");
    assert_eq!(info.node_id, node.node_id());
    assert_eq!(info.networks, Some(vec![ChainHash::REGTEST]));
    let seen = node
        .wait_for_peer(our_id, T)
        .await
        .expect("LDK accepted our init");
    assert!(seen.inbound);
    check_features(&node, &from_ldk(&seen.init_features), &info.features);

    let mut peer = ping_both_ways(&node, peer, our_id).await;

    // Clean disconnect from our side.
    peer.disconnect();
    assert_eq!(
        peer.connection().disconnect_reason(),
        Some(&DisconnectReason::LocalClose)
    );
    assert!(node.wait_for_peer_gone(our_id, T).await, "LDK saw us leave");
    let gone = node
        .wait_for_event(
            T,
            |e| matches!(e, NodeEvent::PeerDisconnected { node_id } if *node_id == our_id),
        )
        .await;
    assert!(gone.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldk_connects_to_lnwasm() {
    let node = ldk(2).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let key = random_secret_key();
    let our_id = pubkey(&key);

    let accepting =
        tokio::task::spawn_blocking(move || tcp::accept(&listener, &key, lnwasm_config(), T));
    let seen = node
        .connect_outbound(our_id, addr, T)
        .await
        .expect("LDK connects to lnwasm and accepts our init");
    assert!(!seen.inbound);
    let (peer, info) = accepting.await.unwrap().expect("lnwasm accepts LDK");
    assert_eq!(
        info.node_id,
        node.node_id(),
        "the handshake authenticated LDK's node id"
    );
    check_features(&node, &from_ldk(&seen.init_features), &info.features);

    let mut peer = ping_both_ways(&node, peer, our_id).await;

    // LDK hangs up; lnwasm notices.
    node.disconnect(our_id);
    let (ev, _peer) = blocking(move || {
        let mut last = None;
        while let Some(e) = peer.next_event(T) {
            last = Some(e);
        }
        (last, peer)
    })
    .await;
    assert_eq!(
        ev,
        Some(PeerEvent::Disconnected(DisconnectReason::StreamClosed))
    );
    assert!(node.wait_for_peer_gone(our_id, T).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnwasm_refuses_ldk_lacking_a_feature_it_requires() {
    let node = ldk(3).await;
    let ldk_features = from_ldk(&node.our_init_features());
    // A feature lnwasm knows, allowed in init, that LDK does not offer.
    let missing = *Feature::ALL
        .iter()
        .find(|f| {
            f.allowed_in(lnwasm::wire::FeatureContext::Init)
                && f.dependencies().is_empty()
                && !ldk_features.supports(**f)
        })
        .expect("some feature LDK lacks");
    let mut config = lnwasm_config();
    config.features.set_required(missing);
    let uri = PeerUri::parse(&node.uri()).unwrap();
    let key = random_secret_key();
    let res = blocking(move || tcp::connect(&uri, &key, config, T).map(|_| ())).await;
    // Whichever refuses first, lnwasm's reason names the feature if it read LDK's init.
    match res {
        Err(TransportError::Disconnected(DisconnectReason::Features(
            FeatureError::MissingRequired(f),
        ))) => {
            assert_eq!(f, missing)
        }
        Err(TransportError::Disconnected(DisconnectReason::StreamClosed)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(node.list_peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnwasm_refuses_ldk_on_another_chain() {
    // LDK (regtest) connects to an lnwasm listener on bitcoin: LDK sends
    // its init first, lnwasm refuses it.
    let node = ldk(4).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let key = random_secret_key();
    let our_id = pubkey(&key);
    let config = PeerConfig::new(ChainHash::BITCOIN);
    let accepting =
        tokio::task::spawn_blocking(move || tcp::accept(&listener, &key, config, T).map(|_| ()));
    let connected = node
        .connect_outbound(our_id, addr, Duration::from_secs(2))
        .await;
    assert!(connected.is_err(), "LDK must not see lnwasm as connected");
    let res = accepting.await.unwrap();
    assert_eq!(
        res,
        Err(TransportError::Disconnected(
            DisconnectReason::NoCommonChain
        ))
    );
    assert!(node.list_peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldk_refuses_an_lnwasm_peer_requiring_an_unknown_feature() {
    let node = ldk(5).await;
    let uri = PeerUri::parse(&node.uri()).unwrap();
    let key = random_secret_key();
    let mut config = lnwasm_config();
    config.features.set_bit(170); // even, unknown to everyone
                                  // lnwasm accepts LDK's init; LDK reads ours, refuses it and hangs up.
    let res = blocking(move || match tcp::connect(&uri, &key, config, T) {
        Err(e) => Err(e),
        Ok((mut peer, _)) => {
            while peer.next_event(T).is_some() {}
            match peer.connection().disconnect_reason() {
                Some(r) => Err(TransportError::Disconnected(r.clone())),
                None => Ok(()),
            }
        }
    })
    .await;
    match res {
        Err(TransportError::Disconnected(
            DisconnectReason::StreamClosed | DisconnectReason::PeerError(_),
        )) => {}
        other => panic!("expected LDK to refuse us, got {other:?}"),
    }
    assert!(node.list_peers().is_empty());
}
