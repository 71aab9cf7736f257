//! Every BOLT 2 violation by the peer gets a specific reaction.

#[path = "channel_harness.rs"]
mod harness;

use bitcoin::Network;
use harness::*;
use lnwasm::channel::{
    Action, Channel, ChannelError, Command, Event, PendingChannelLimits, PendingLimits,
};
use lnwasm::error::ErrorCode;
use lnwasm::keys::{ChannelKeyIndex, PerCommitmentSecret, WalletKeys};
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::{Msat, Sat};
use lnwasm::wire::{
    lnwasm_init_features, ChannelId, ExtraTlvs, Message, OpenChannel, UpdateAddHtlc, UpdateFee,
    UpdateFulfillHtlc,
};

/// The open_channel A would send.
fn sample_open() -> OpenChannel {
    let w = WalletKeys::from_seed(&[1; 32], Network::Regtest).unwrap();
    let idx = ChannelKeyIndex::new(0).unwrap();
    let f = lnwasm_init_features();
    let (_, acts) = Channel::open(
        config(),
        w.channel_keys(idx).unwrap(),
        idx,
        lnwasm::channel::OpenRequest {
            temporary_channel_id: ChannelId([9; 32]),
            funding: Sat(1_000_000),
            push: Msat(0),
            feerate: FeeratePerKw(2500),
            announce: false,
            peer_features: f.clone(),
            our_features: f,
            now: 0,
        },
    )
    .unwrap();
    match &acts[0] {
        Action::Send(Message::OpenChannel(o)) => o.clone(),
        _ => panic!(),
    }
}

fn refuse(open: &OpenChannel) -> ChannelError {
    let w = WalletKeys::from_seed(&[2; 32], Network::Regtest).unwrap();
    let idx = ChannelKeyIndex::new(0).unwrap();
    let f = lnwasm_init_features();
    let (e, acts) = Channel::accept(
        config(),
        w.channel_keys(idx).unwrap(),
        idx,
        &f,
        &f,
        open,
        Some(FeeratePerKw(2500)),
        0,
    )
    .unwrap_err();
    match &acts[..] {
        [Action::Send(Message::Error(m))] => {
            assert_eq!(m.channel_id, open.temporary_channel_id);
            assert_eq!(m.text(), e.to_string());
        }
        other => panic!("{other:?}"),
    }
    e
}

#[test]
fn open_channel_parameter_checks() {
    let ok = sample_open();
    type Mutation = Box<dyn Fn(&mut OpenChannel)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "WRONG_CHAIN",
            Box::new(|o| o.chain_hash = bitcoin::constants::ChainHash::BITCOIN),
        ),
        (
            "PUSH_EXCEEDS_FUNDING",
            Box::new(|o| o.push = Msat(1_000_000_001)),
        ),
        ("FUNDING_OUT_OF_RANGE", Box::new(|o| o.funding = Sat(1000))),
        (
            "LARGE_CHANNEL_NOT_NEGOTIATED",
            Box::new(|o| o.funding = Sat(1 << 24)),
        ),
        (
            "DUST_LIMIT_OUT_OF_RANGE",
            Box::new(|o| o.dust_limit = Sat(353)),
        ),
        (
            "DUST_LIMIT_OUT_OF_RANGE",
            Box::new(|o| {
                o.dust_limit = Sat(9000);
                o.channel_reserve = Sat(20_000)
            }),
        ),
        (
            "DUST_LIMIT_ABOVE_RESERVE",
            Box::new(|o| {
                o.dust_limit = Sat(600);
                o.channel_reserve = Sat(500)
            }),
        ),
        (
            "RESERVE_TOO_LARGE",
            Box::new(|o| o.channel_reserve = Sat(300_000)),
        ),
        (
            "RESERVE_BELOW_DUST_LIMIT",
            Box::new(|o| {
                o.dust_limit = Sat(400);
                o.channel_reserve = Sat(500)
            }),
        ),
        (
            "TO_SELF_DELAY_TOO_LARGE",
            Box::new(|o| o.to_self_delay = 5000),
        ),
        (
            "MAX_ACCEPTED_HTLCS_OUT_OF_RANGE",
            Box::new(|o| o.max_accepted_htlcs = 484),
        ),
        (
            "MAX_ACCEPTED_HTLCS_OUT_OF_RANGE",
            Box::new(|o| o.max_accepted_htlcs = 0),
        ),
        (
            "MAX_IN_FLIGHT_TOO_SMALL",
            Box::new(|o| o.max_htlc_value_in_flight = Msat(1000)),
        ),
        (
            "HTLC_MINIMUM_TOO_LARGE",
            Box::new(|o| o.htlc_minimum = Msat(10_000_000)),
        ),
        ("FEERATE_OUT_OF_RANGE", Box::new(|o| o.feerate_per_kw = 100)),
        (
            "FEERATE_OUT_OF_RANGE",
            Box::new(|o| o.feerate_per_kw = 100_000),
        ),
        (
            "FUNDER_CANNOT_AFFORD_FEE",
            Box::new(|o| o.push = Msat(999_000_000)),
        ),
        (
            "UNSUPPORTED_CHANNEL_TYPE",
            Box::new(|o| o.channel_type = Some(lnwasm::wire::Features::from_bits(&[20]))),
        ),
        (
            "UNSUPPORTED_CHANNEL_TYPE",
            Box::new(|o| {
                o.channel_type = Some(lnwasm::wire::Features::from_bits(&[12, 22, 46, 50]))
            }),
        ),
        // Anchors, which the default configuration does not negotiate.
        (
            "UNSUPPORTED_CHANNEL_TYPE",
            Box::new(|o| o.channel_type = Some(lnwasm::wire::Features::from_bits(&[12, 22]))),
        ),
        (
            "INVALID_SHUTDOWN_SCRIPT",
            Box::new(|o| {
                o.upfront_shutdown_script = Some(bitcoin::ScriptBuf::from_bytes(vec![0x51]))
            }),
        ),
    ];
    for (code, f) in cases {
        let mut o = ok.clone();
        f(&mut o);
        assert_eq!(refuse(&o).code(), code, "{o:?}");
    }
}

#[test]
fn accept_channel_checks_by_funder() {
    // minimum_depth too large, channel_type changed.
    for (code, f) in [
        (
            "MINIMUM_DEPTH_UNACCEPTABLE",
            Box::new(|a: &mut lnwasm::wire::AcceptChannel| a.minimum_depth = 10_000)
                as Box<dyn Fn(&mut lnwasm::wire::AcceptChannel)>,
        ),
        (
            "MINIMUM_DEPTH_UNACCEPTABLE",
            Box::new(|a| a.minimum_depth = 0),
        ),
        (
            "CHANNEL_TYPE_MISMATCH",
            Box::new(|a| a.channel_type = Some(lnwasm::wire::Features::from_bits(&[12, 22]))),
        ),
        (
            "WRONG_TEMPORARY_CHANNEL_ID",
            Box::new(|a| a.temporary_channel_id = ChannelId([1; 32])),
        ),
        (
            "TO_SELF_DELAY_TOO_LARGE",
            Box::new(|a| a.to_self_delay = 60_000),
        ),
    ] {
        let open = sample_open();
        let wa = WalletKeys::from_seed(&[1; 32], Network::Regtest).unwrap();
        let wb = WalletKeys::from_seed(&[2; 32], Network::Regtest).unwrap();
        let idx = ChannelKeyIndex::new(0).unwrap();
        let feats = lnwasm_init_features();
        let (_, acts) = Channel::accept(
            config(),
            wb.channel_keys(idx).unwrap(),
            idx,
            &feats,
            &feats,
            &open,
            None,
            0,
        )
        .unwrap();
        let Action::Send(Message::AcceptChannel(mut acc)) = acts[0].clone() else {
            panic!()
        };
        f(&mut acc);
        let (mut a, _) = Channel::open(
            config(),
            wa.channel_keys(idx).unwrap(),
            idx,
            lnwasm::channel::OpenRequest {
                temporary_channel_id: ChannelId([9; 32]),
                funding: Sat(1_000_000),
                push: Msat(0),
                feerate: FeeratePerKw(2500),
                announce: false,
                peer_features: feats.clone(),
                our_features: feats.clone(),
                now: 0,
            },
        )
        .unwrap();
        let acts = a
            .handle(Command::Message(Message::AcceptChannel(acc)))
            .unwrap();
        assert!(matches!(&acts[0], Action::Send(Message::Error(_))));
        let ev = acts
            .iter()
            .find_map(|x| {
                if let Action::Event(Event::PeerViolation(e)) = x {
                    Some(e.clone())
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(ev.code(), code);
        assert_eq!(a.state_name(), "ABORTED");
    }
}

/// Delivers a forged message to the node on `to` and returns the reaction.
fn forge(p: &mut Pair, to: Side, m: Message) -> Vec<Action> {
    let (_, y) = p.node(to.other());
    y.ch.handle(Command::Message(m)).unwrap()
}

fn expect_force_close(acts: &[Action], code: &str) {
    assert!(
        matches!(acts.first(), Some(Action::Persist(_))),
        "persist first: {acts:?}"
    );
    let err = acts
        .iter()
        .position(|a| matches!(a, Action::Send(Message::Error(_))))
        .expect("error sent");
    let publish = acts
        .iter()
        .position(|a| matches!(a, Action::Publish(_)))
        .expect("commitment published");
    assert!(err < publish);
    let ev = acts
        .iter()
        .find_map(|x| {
            if let Action::Event(Event::PeerViolation(e)) = x {
                Some(e.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(ev.code(), code);
}

fn add_msg(p: &Pair, id: u64, amount: Msat) -> Message {
    Message::UpdateAddHtlc(UpdateAddHtlc {
        channel_id: p.a.ch.channel_id(),
        id,
        amount,
        payment_hash: hash(id),
        cltv_expiry: 500,
        onion_routing_packet: onion(),
        blinding_point: None,
        extra_tlvs: ExtraTlvs::default(),
    })
}

#[test]
fn htlc_violations_force_close() {
    type MakeMessage = Box<dyn Fn(&Pair) -> Message>;
    let cases: Vec<(&str, MakeMessage)> = vec![
        (
            "UNEXPECTED_HTLC_ID",
            Box::new(|p| add_msg(p, 5, Msat(1_000_000))),
        ),
        ("HTLC_BELOW_MINIMUM", Box::new(|p| add_msg(p, 0, Msat(0)))),
        (
            "INSUFFICIENT_BALANCE",
            Box::new(|p| add_msg(p, 0, Msat(199_000_000))),
        ),
        (
            "INVALID_CLTV_EXPIRY",
            Box::new(|p| {
                let Message::UpdateAddHtlc(mut m) = add_msg(p, 0, Msat(1000)) else {
                    unreachable!()
                };
                m.cltv_expiry = 500_000_000;
                Message::UpdateAddHtlc(m)
            }),
        ),
        (
            "UNKNOWN_HTLC",
            Box::new(|p| {
                Message::UpdateFulfillHtlc(UpdateFulfillHtlc {
                    channel_id: p.a.ch.channel_id(),
                    id: 0,
                    payment_preimage: preimage(0),
                    extra_tlvs: ExtraTlvs::default(),
                })
            }),
        ),
        (
            "UPDATE_FEE_FROM_FUNDEE",
            Box::new(|p| {
                Message::UpdateFee(UpdateFee {
                    channel_id: p.a.ch.channel_id(),
                    feerate_per_kw: 3000,
                })
            }),
        ),
        (
            "NOTHING_TO_COMMIT",
            Box::new(|p| {
                Message::CommitmentSigned(lnwasm::wire::CommitmentSigned {
                    channel_id: p.a.ch.channel_id(),
                    signature: p.a.ch.commitments().unwrap().local_commit.sig,
                    htlc_signatures: vec![],
                    funding_txid: None,
                    extra_tlvs: ExtraTlvs::default(),
                })
            }),
        ),
        (
            "UNEXPECTED_REVOCATION",
            Box::new(|p| {
                Message::RevokeAndAck(lnwasm::wire::RevokeAndAck {
                    channel_id: p.a.ch.channel_id(),
                    per_commitment_secret: PerCommitmentSecret([1; 32]),
                    next_per_commitment_point: p.a.ch.keys().per_commitment_point(5).unwrap(),
                })
            }),
        ),
    ];
    for (code, mk) in cases {
        let mut p = open_pair(OpenOpts::default());
        let m = mk(&p);
        // B sends everything (A receives), except update_fee which A (funder) sends to... B is fundee: forge to A.
        let acts = forge(&mut p, Side::Holder, m);
        expect_force_close(&acts, code);
        assert_eq!(p.a.ch.state_name(), "CLOSING");
    }
}

#[test]
fn too_many_htlcs_and_bad_preimage() {
    let mut p = open_pair(OpenOpts::default());
    let max = config().max_accepted_htlcs as u64;
    for i in 0..max {
        p.b.handle(Command::AddHtlc {
            amount: Msat(1_000_000),
            payment_hash: hash(i),
            cltv_expiry: 500,
            onion: onion(),
        })
        .unwrap();
    }
    // B's own limit check refuses the next one locally...
    let e =
        p.b.ch
            .handle(Command::AddHtlc {
                amount: Msat(1_000_000),
                payment_hash: hash(99),
                cltv_expiry: 500,
                onion: onion(),
            })
            .unwrap_err();
    assert_eq!(e.code(), "TOO_MANY_HTLCS");
    p.settle();
    // ...and A refuses a forged one with error + force close.
    let m = add_msg(&p, max, Msat(1_000_000));
    let acts = forge(&mut p, Side::Holder, m);
    expect_force_close(&acts, "TOO_MANY_HTLCS");

    let mut p = open_pair(OpenOpts::default());
    let id = p.add(Side::Holder, Msat(5_000_000), 1).unwrap();
    p.sign(Side::Holder);
    let m = Message::UpdateFulfillHtlc(UpdateFulfillHtlc {
        channel_id: p.a.ch.channel_id(),
        id,
        payment_preimage: preimage(2),
        extra_tlvs: ExtraTlvs::default(),
    });
    expect_force_close(&forge(&mut p, Side::Holder, m), "INVALID_PREIMAGE");
}

#[test]
fn wrong_commitment_signature_and_wrong_revocation_secret() {
    // A wrong signature on our next commitment.
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Counterparty, Msat(5_000_000), 1).unwrap();
    p.b.handle(Command::Sign).unwrap();
    let add = p.b.outbox.pop_front().unwrap();
    let Some(Message::CommitmentSigned(mut cs)) = p.b.outbox.pop_front() else {
        panic!()
    };
    p.a.handle(Command::Message(add)).unwrap();
    let good = cs.clone();
    cs.signature = p.a.ch.commitments().unwrap().local_commit.sig;
    let before = p.a.ch.commitments().unwrap().local_commit.clone();
    let acts =
        p.a.ch
            .handle(Command::Message(Message::CommitmentSigned(cs)))
            .unwrap();
    expect_force_close(&acts, "INVALID_COMMITMENT_SIGNATURE");
    assert_eq!(
        p.a.ch.commitments().unwrap().local_commit,
        before,
        "commitment unchanged"
    );

    // Wrong number of HTLC signatures.
    let mut p2 = open_pair(OpenOpts::default());
    p2.add(Side::Counterparty, Msat(5_000_000), 1).unwrap();
    p2.b.handle(Command::Sign).unwrap();
    let add = p2.b.outbox.pop_front().unwrap();
    let Some(Message::CommitmentSigned(mut cs2)) = p2.b.outbox.pop_front() else {
        panic!()
    };
    p2.a.handle(Command::Message(add)).unwrap();
    cs2.htlc_signatures.clear();
    let acts =
        p2.a.ch
            .handle(Command::Message(Message::CommitmentSigned(cs2)))
            .unwrap();
    expect_force_close(&acts, "WRONG_HTLC_SIGNATURE_COUNT");
    let _ = good;

    // A revocation secret that does not match the revoked commitment.
    let mut p3 = open_pair(OpenOpts::default());
    p3.add(Side::Holder, Msat(5_000_000), 1).unwrap();
    p3.a.handle(Command::Sign).unwrap();
    harness::deliver(&mut p3.a, &mut p3.b);
    let Some(Message::RevokeAndAck(mut ra)) = p3.b.outbox.pop_front() else {
        panic!()
    };
    ra.per_commitment_secret = PerCommitmentSecret([3; 32]);
    let acts =
        p3.a.ch
            .handle(Command::Message(Message::RevokeAndAck(ra)))
            .unwrap();
    expect_force_close(&acts, "INVALID_REVOCATION_SECRET");
}

#[test]
fn unexpected_messages() {
    let mut p = open_pair(OpenOpts::default());
    let open = sample_open();
    let acts = forge(&mut p, Side::Holder, Message::OpenChannel(open));
    expect_force_close(&acts, "UNEXPECTED_MESSAGE");
    // channel_reestablish while online.
    let mut p = open_pair(OpenOpts::default());
    let r = p.b.ch.reestablish_msg().unwrap();
    expect_force_close(
        &forge(&mut p, Side::Holder, Message::ChannelReestablish(r)),
        "UNEXPECTED_MESSAGE",
    );
}

#[test]
fn peer_error_makes_us_publish_our_commitment() {
    let mut p = open_pair(OpenOpts::default());
    let m = Message::Error(lnwasm::wire::ErrorMessage::new(p.a.ch.channel_id(), "bye"));
    let acts = forge(&mut p, Side::Holder, m);
    assert!(acts.iter().any(|a| matches!(a, Action::Publish(_))));
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Event(Event::PeerError { fatal: true, .. }))));
}

#[test]
fn data_loss_protect_we_are_behind_never_broadcast() {
    let mut p = open_pair(OpenOpts::default());
    // Snapshot of A's store now; then the channel advances.
    let old = p.a.store.clone();
    for i in 0..3 {
        p.add(Side::Holder, Msat(1_000_000), i).unwrap();
        p.sign(Side::Holder);
    }
    p.check();
    // A comes back with the old state.
    p.a.store = old;
    p.a.reload();
    p.disconnect();
    p.a.handle(Command::Connected).unwrap();
    p.b.handle(Command::Connected).unwrap();
    harness::deliver(&mut p.b, &mut p.a);
    assert!(p
        .a
        .events
        .iter()
        .any(|e| matches!(e, Event::DataLoss { .. })));
    assert_eq!(p.a.ch.state_name(), "WAITING_FOR_REMOTE_CLOSE");
    assert!(
        p.a.published.len() == 1,
        "nothing but the funding tx was ever published by A"
    );
    // Even a force close command does not publish the stale commitment.
    let acts = p.a.ch.handle(Command::ForceClose).unwrap();
    assert!(!acts.iter().any(|a| matches!(a, Action::Publish(_))));
    // B, being ahead, received an error and... B's reaction: it sees A behind: error + force close.
    harness::deliver(&mut p.a, &mut p.b);
    assert!(p
        .b
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerViolation(_) | Event::PeerError { .. })));
}

#[test]
fn pending_inbound_channels_are_limited_and_expire() {
    let mut l = PendingChannelLimits::new(PendingLimits {
        per_peer: 2,
        total: 3,
        timeout_secs: 100,
    });
    let peer1 = WalletKeys::from_seed(&[1; 32], Network::Regtest)
        .unwrap()
        .node_id()
        .unwrap();
    let peer2 = WalletKeys::from_seed(&[2; 32], Network::Regtest)
        .unwrap()
        .node_id()
        .unwrap();
    assert!(l.may_accept(&peer1));
    l.add(ChannelId([1; 32]), peer1, 0);
    l.add(ChannelId([2; 32]), peer1, 10);
    assert!(!l.may_accept(&peer1), "per-peer limit");
    assert!(l.may_accept(&peer2));
    l.add(ChannelId([3; 32]), peer2, 20);
    assert!(!l.may_accept(&peer2), "total limit");
    assert_eq!(l.expire(105), vec![ChannelId([1; 32])]);
    assert!(l.may_accept(&peer2));
    // An unfunded inbound channel is forgotten on disconnect and after the timeout, never persisted.
    let open = sample_open();
    let w = WalletKeys::from_seed(&[2; 32], Network::Regtest).unwrap();
    let idx = ChannelKeyIndex::new(0).unwrap();
    let f = lnwasm_init_features();
    let (mut ch, acts) = Channel::accept(
        config(),
        w.channel_keys(idx).unwrap(),
        idx,
        &f,
        &f,
        &open,
        None,
        0,
    )
    .unwrap();
    assert!(!acts.iter().any(|a| matches!(a, Action::Persist(_))));
    assert!(ch.is_pending_inbound());
    let acts = ch.handle(Command::Tick { now: 3 * 24 * 3600 }).unwrap();
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Event(Event::Forgotten))));
    assert_eq!(ch.state_name(), "ABORTED");
}
