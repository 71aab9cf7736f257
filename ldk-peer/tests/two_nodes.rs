//! Two LDK nodes from this crate talk to each other over 127.0.0.1: proves the harness end to end
//! without lnwasm.

use std::time::Duration;

use ldk_peer::lightning::events::Event;
use ldk_peer::{features_hex, Config, LdkNode, NodeEvent};
use tokio::io::AsyncReadExt;

const T: Duration = Duration::from_secs(10);

fn fast(seed: u8) -> Config {
    Config {
        peer_tick: Duration::from_secs(1),
        ..Config::with_seed_byte(seed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_connect_ping_and_disconnect() {
    let a = LdkNode::start(fast(1)).await.unwrap();
    let b = LdkNode::start(fast(2)).await.unwrap();
    assert_ne!(a.node_id(), b.node_id());
    assert!(a.listen_addr().ip().is_loopback() && a.listen_addr().port() != 0);
    assert!(a.list_peers().is_empty());

    // b dials a: BOLT 8 handshake as initiator, then init both ways.
    let seen_by_b = b
        .connect_outbound(a.node_id(), a.listen_addr(), T)
        .await
        .unwrap();
    assert_eq!(seen_by_b.node_id, a.node_id());
    assert!(!seen_by_b.inbound);
    let seen_by_a = a.wait_for_peer(b.node_id(), T).await.expect("a lists b");
    assert!(seen_by_a.inbound);
    assert_eq!(a.list_peers().len(), 1);
    assert_eq!(b.list_peers().len(), 1);

    // The features each side received are the ones the other advertises.
    assert_eq!(seen_by_a.init_features, b.our_init_features());
    assert_eq!(seen_by_b.init_features, a.our_init_features());
    let f = &seen_by_a.init_features;
    assert!(f.requires_data_loss_protect());
    assert!(f.requires_variable_length_onion());
    assert!(f.requires_static_remote_key());
    assert!(f.requires_payment_secret());
    assert!(f.requires_channel_type());
    assert!(f.supports_anchors_zero_fee_htlc_tx());
    assert!(!features_hex(f).is_empty());

    // The watcher recorded the connection with the peer's init, networks included.
    let ev = a
        .wait_for_event(T, |e| matches!(e, NodeEvent::PeerConnected { .. }))
        .await
        .unwrap();
    match ev {
        NodeEvent::PeerConnected {
            node_id,
            inbound,
            networks,
            ..
        } => {
            assert_eq!(node_id, b.node_id());
            assert!(inbound);
            assert_eq!(
                networks,
                Some(vec![bitcoin::constants::ChainHash::using_genesis_block(
                    bitcoin::Network::Regtest
                )])
            );
        }
        _ => unreachable!(),
    }

    // Pings: each tick (1 s here) LDK pings every peer and the other side answers.
    let s = a
        .wait_for_ping_stats(&b.node_id(), T, |s| {
            s.pings_sent >= 2 && s.pongs_received >= 2
        })
        .await
        .expect("a pings b and b answers");
    assert!(s.pings_received >= 1 && s.pongs_sent >= 1, "{s:?}");
    let before = b.ping_stats(&a.node_id());
    b.ping_peers();
    b.wait_for_ping_stats(&a.node_id(), T, |s| {
        s.pongs_received > before.pongs_received
    })
    .await
    .expect("ping_peers gets a pong");
    // Still connected after several ticks: pongs keep the connection alive.
    assert!(a.peer(&b.node_id()).is_some() && b.peer(&a.node_id()).is_some());

    // A clean disconnect from a's side is seen by both.
    a.disconnect(b.node_id());
    assert!(a.wait_for_peer_gone(b.node_id(), T).await);
    assert!(b.wait_for_peer_gone(a.node_id(), T).await);
    for (n, other) in [(&a, b.node_id()), (&b, a.node_id())] {
        n.wait_for_event(
            T,
            |e| matches!(e, NodeEvent::PeerDisconnected { node_id } if *node_id == other),
        )
        .await
        .expect("PeerDisconnected recorded");
    }

    // And the reverse direction works too: a dials b.
    a.connect_outbound(b.node_id(), b.listen_addr(), T)
        .await
        .unwrap();
    assert!(b.wait_for_peer(a.node_id(), T).await.unwrap().inbound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_channel_request_is_recorded_and_accepted_on_request() {
    let a = LdkNode::start(fast(3)).await.unwrap();
    let b = LdkNode::start(fast(4)).await.unwrap();
    b.connect_outbound(a.node_id(), a.listen_addr(), T)
        .await
        .unwrap();
    a.wait_for_peer(b.node_id(), T).await.unwrap();

    // Not accepting: the request is only recorded.
    b.channel_manager()
        .create_channel(a.node_id(), 100_000, 0, 1, None, None)
        .unwrap();
    let ev = a
        .wait_for_event(T, |e| {
            matches!(e, NodeEvent::Ldk(Event::OpenChannelRequest { .. }))
        })
        .await
        .expect("OpenChannelRequest recorded");
    if let NodeEvent::Ldk(Event::OpenChannelRequest {
        counterparty_node_id,
        funding_satoshis,
        channel_type,
        ..
    }) = ev
    {
        assert_eq!(counterparty_node_id, b.node_id());
        assert_eq!(funding_satoshis, 100_000);
        assert!(channel_type.supports_anchors_zero_fee_htlc_tx());
    }
    assert!(b
        .ldk_events()
        .iter()
        .all(|e| !matches!(e, Event::FundingGenerationReady { .. })));

    // Accepting: the opener gets to the funding step.
    a.set_accept_inbound_channels(true);
    b.channel_manager()
        .create_channel(a.node_id(), 200_000, 0, 2, None, None)
        .unwrap();
    b.wait_for_event(T, |e| {
        matches!(
            e,
            NodeEvent::Ldk(Event::FundingGenerationReady {
                channel_value_satoshis: 200_000,
                ..
            })
        )
    })
    .await
    .expect("accept_channel came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_fed_to_ldk() {
    let a = LdkNode::start(Config::default()).await.unwrap();
    assert_eq!(a.best_block().0, 0);
    let blocks = a.mine_blocks(6, vec![]);
    assert_eq!(blocks.len(), 6);
    let (h, hash) = a.best_block();
    assert_eq!(h, 6);
    assert_eq!(hash, blocks[5].block_hash());
    let cm_best = a.channel_manager().current_best_block();
    assert_eq!((cm_best.height, cm_best.block_hash), (6, hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tcp_client_is_dropped_after_handshake_timeout() {
    // LDK gives a new connection one to two peer ticks to finish BOLT 8 + init.
    let a = LdkNode::start(fast(5)).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(a.listen_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed within 5 s")
        .unwrap_or(0);
    assert_eq!(n, 0, "LDK (responder) sends nothing before act one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_peers_sends_one_ping_between_ticks() {
    // Ticks far apart: any ping seen here comes from ping_peers.
    let slow = |seed| Config {
        peer_tick: Duration::from_secs(60),
        ..Config::with_seed_byte(seed)
    };
    let a = LdkNode::start(slow(6)).await.unwrap();
    let b = LdkNode::start(slow(7)).await.unwrap();
    b.connect_outbound(a.node_id(), a.listen_addr(), T)
        .await
        .unwrap();
    a.wait_for_peer(b.node_id(), T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.ping_stats(&a.node_id()), Default::default());

    b.ping_peers();
    let s = b
        .wait_for_ping_stats(&a.node_id(), T, |s| s.pongs_received == 1)
        .await
        .expect("pong for the requested ping");
    assert_eq!(s.pings_sent, 1);
    let sa = a.ping_stats(&b.node_id());
    assert_eq!((sa.pings_received, sa.pongs_sent), (1, 1));
    // Twice more: each request is one more ping once the previous pong is in.
    b.ping_peers();
    b.wait_for_ping_stats(&a.node_id(), T, |s| s.pongs_received == 2)
        .await
        .unwrap();
    b.ping_peers();
    b.wait_for_ping_stats(&a.node_id(), T, |s| s.pongs_received == 3)
        .await
        .unwrap();
    assert!(a.peer(&b.node_id()).is_some());
}
