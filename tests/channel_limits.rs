//! The limits we announce, enforced on the peer's updates: each violation
//! gets `error` (exact text), a `PeerViolation` with its code and a force
//! close; a value exactly at the limit is accepted. Also `channel_ready`
//! retransmission on reestablish.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Action, Command, Event};
use lnwasm::error::ErrorCode;
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::Msat;
use lnwasm::wire::{ExtraTlvs, Message, UpdateAddHtlc, UpdateFee};

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

/// Delivers `m` to `to` and checks the reaction: persist, `error` with
/// `text`, the violation `code`, our commitment published, state CLOSING.
fn expect_force_close(p: &mut Pair, to: Side, m: Message, code: &str, text: &str) {
    let (x, _) = p.node(to);
    let id = x.ch.channel_id();
    let acts = x.ch.handle(Command::Message(m)).unwrap();
    assert!(matches!(acts[0], Action::Persist(_)), "{acts:?}");
    let Action::Send(Message::Error(e)) = &acts[1] else {
        panic!("error first: {acts:?}")
    };
    assert_eq!(e.channel_id, id);
    assert_eq!(e.text(), text);
    let Action::Event(Event::PeerViolation(v)) = &acts[2] else {
        panic!("violation event: {acts:?}")
    };
    assert_eq!(v.code(), code);
    assert!(
        matches!(acts[3], Action::Publish(_)),
        "commitment: {acts:?}"
    );
    assert_eq!(x.ch.state_name(), "CLOSING");
}

/// Delivers `m` to `to`: accepted without any reaction.
fn expect_accepted(p: &mut Pair, to: Side, m: Message) {
    let (x, _) = p.node(to);
    let acts = x.ch.handle(Command::Message(m)).unwrap();
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(x.ch.state_name(), "NORMAL");
}

#[test]
fn peer_exceeding_our_max_htlc_value_in_flight() {
    // A announces 5% of 1_000_000 sat: 50_000_000 msat.
    let mut cfg_a = config();
    cfg_a.max_in_flight_ppm = 50_000;
    let mut p = open_pair_with(OpenOpts::default(), cfg_a, config());
    assert_eq!(
        p.a.ch.commitments().unwrap().ours.max_in_flight,
        Msat(50_000_000)
    );
    assert_eq!(
        p.b.ch.commitments().unwrap().theirs.max_in_flight,
        Msat(50_000_000)
    );
    // B's own check refuses to send beyond it, the channel unchanged.
    let before = p.b.ch.update_number();
    let e =
        p.b.ch
            .handle(Command::AddHtlc {
                amount: Msat(50_000_001),
                payment_hash: hash(1),
                cltv_expiry: 500,
                onion: onion(),
            })
            .unwrap_err();
    assert_eq!(e.code(), "IN_FLIGHT_LIMIT_EXCEEDED");
    assert_eq!(p.b.ch.update_number(), before);
    // Exactly the limit, in two HTLCs, is accepted...
    let m = add_msg(&p, 0, Msat(30_000_000));
    expect_accepted(&mut p, Side::Holder, m);
    let m = add_msg(&p, 1, Msat(20_000_000));
    expect_accepted(&mut p, Side::Holder, m);
    // ...one more msat is not.
    let m = add_msg(&p, 2, Msat(1));
    expect_force_close(
        &mut p,
        Side::Holder,
        m,
        "IN_FLIGHT_LIMIT_EXCEEDED",
        "max_htlc_value_in_flight exceeded",
    );
}

#[test]
fn peer_adds_exceeding_our_dust_exposure() {
    // A accepts at most 5_000 sat of dust HTLCs; under anchors an HTLC
    // below the 546-sat dust limit is trimmed.
    let mut cfg_a = config();
    cfg_a.max_dust_exposure = Msat(5_000_000);
    let mut p = open_pair_with(OpenOpts::default(), cfg_a, config());
    for id in 0..10 {
        let m = add_msg(&p, id, Msat(500_000));
        expect_accepted(&mut p, Side::Holder, m);
    }
    // Non-dust HTLCs do not count.
    let m = add_msg(&p, 10, Msat(546_000));
    expect_accepted(&mut p, Side::Holder, m);
    let m = add_msg(&p, 11, Msat(1_000));
    expect_force_close(
        &mut p,
        Side::Holder,
        m,
        "DUST_EXPOSURE_EXCEEDED",
        "dust exposure exceeded",
    );
}

#[test]
fn update_fee_that_turns_htlcs_into_dust() {
    // Without anchors the second-stage fee raises the dust threshold of a
    // received HTLC on B's commitment to 546 + 703 * feerate / 1000 sat:
    // 2_303 sat at 2_500 sat/kw, 4_061 sat at 5_000 sat/kw.
    let mut cfg_b = config();
    cfg_b.max_dust_exposure = Msat(5_000_000);
    let mut p = open_pair_with(
        OpenOpts {
            anchors: false,
            ..OpenOpts::default()
        },
        config(),
        cfg_b,
    );
    p.add(Side::Holder, Msat(3_000_000), 1).unwrap();
    p.add(Side::Holder, Msat(3_000_000), 2).unwrap();
    p.sign(Side::Holder);
    p.check();
    let id = p.a.ch.channel_id();
    let fee = |feerate_per_kw| {
        Message::UpdateFee(UpdateFee {
            channel_id: id,
            feerate_per_kw,
        })
    };
    // 3_500 sat/kw: threshold 3_006 sat, both HTLCs are dust (6_000 sat).
    // 3_400 sat/kw: threshold 2_936 sat, none is.
    expect_accepted(&mut p, Side::Counterparty, fee(3_400));
    // The latest update_fee replaces the previous one.
    expect_force_close(
        &mut p,
        Side::Counterparty,
        fee(3_500),
        "DUST_EXPOSURE_EXCEEDED",
        "dust exposure exceeded",
    );
}

#[test]
fn our_update_fee_that_would_turn_htlcs_into_dust() {
    // The same HTLCs from A, the funder, whose limit is now the one at
    // stake: at 3_500 sat/kw both are dust on B's commitment (6_000 sat
    // trimmed, over A's 5_000), at 3_400 neither is.
    let mut cfg_a = config();
    cfg_a.max_dust_exposure = Msat(5_000_000);
    let mut p = open_pair_with(
        OpenOpts {
            anchors: false,
            ..OpenOpts::default()
        },
        cfg_a,
        config(),
    );
    p.add(Side::Holder, Msat(3_000_000), 1).unwrap();
    p.add(Side::Holder, Msat(3_000_000), 2).unwrap();
    p.sign(Side::Holder);
    p.check();
    let before = p.a.sent.len();
    let e =
        p.a.handle(Command::UpdateFee(FeeratePerKw(3_500)))
            .unwrap_err();
    assert_eq!(e.code(), "DUST_EXPOSURE_EXCEEDED");
    // Following the estimate stops short of it, without an error.
    p.a.handle(Command::FeeEstimate(FeeratePerKw(3_500)))
        .unwrap();
    assert_eq!(p.a.sent.len(), before);
    assert!(!p.a.ch.commitments().unwrap().local_has_unsigned());
    p.a.handle(Command::FeeEstimate(FeeratePerKw(3_400)))
        .unwrap();
    assert_eq!(p.a.sent.len(), before + 2);
    p.settle();
    p.check();
    assert_eq!(
        p.b.ch.commitments().unwrap().local_commit.spec.feerate,
        FeeratePerKw(3_400)
    );
}

#[test]
fn peer_exceeding_our_max_accepted_htlcs() {
    let mut cfg_a = config();
    cfg_a.max_accepted_htlcs = 5;
    let mut p = open_pair_with(OpenOpts::default(), cfg_a, config());
    assert_eq!(p.b.ch.commitments().unwrap().theirs.max_accepted_htlcs, 5);
    for id in 0..5 {
        let m = add_msg(&p, id, Msat(1_000_000));
        expect_accepted(&mut p, Side::Holder, m);
    }
    let m = add_msg(&p, 5, Msat(1_000_000));
    expect_force_close(&mut p, Side::Holder, m, "TOO_MANY_HTLCS", "too many htlcs");
}

#[test]
fn local_adds_refused_at_the_peers_limits_leave_the_channel_unchanged() {
    let mut cfg_a = config();
    cfg_a.max_accepted_htlcs = 5;
    let mut p = open_pair_with(OpenOpts::default(), cfg_a, config());
    for n in 0..5 {
        p.add(Side::Counterparty, Msat(1_000_000), n).unwrap();
    }
    let before = (
        p.b.ch.update_number(),
        p.b.ch.commitments().unwrap().clone(),
    );
    let e =
        p.b.ch
            .handle(Command::AddHtlc {
                amount: Msat(1_000_000),
                payment_hash: hash(9),
                cltv_expiry: 500,
                onion: onion(),
            })
            .unwrap_err();
    assert_eq!(e.code(), "TOO_MANY_HTLCS");
    assert_eq!(
        (
            p.b.ch.update_number(),
            p.b.ch.commitments().unwrap().clone()
        ),
        before
    );
}

/// BOLT 2: when both `next_commitment_number`s are 1, `channel_ready` is
/// sent again, after `channel_reestablish`; once a commitment was signed, it
/// is not.
#[test]
fn channel_ready_retransmitted_only_before_the_first_update() {
    let mut p = open_pair(OpenOpts::default());
    for n in [&mut p.a, &mut p.b] {
        n.sent.clear();
    }
    p.disconnect();
    p.reconnect();
    for n in [&p.a, &p.b] {
        let names: Vec<&str> = n
            .sent
            .iter()
            .map(|m| match m {
                Message::ChannelReestablish(r) => {
                    assert_eq!(r.next_commitment_number, 1);
                    assert_eq!(r.next_revocation_number, 0);
                    "channel_reestablish"
                }
                Message::ChannelReady(r) => {
                    assert_eq!(r.channel_id, n.ch.channel_id());
                    assert_eq!(
                        r.second_per_commitment_point,
                        n.ch.keys().per_commitment_point(1).unwrap()
                    );
                    "channel_ready"
                }
                _ => "other",
            })
            .collect();
        assert_eq!(names, vec!["channel_reestablish", "channel_ready"]);
    }
    // A repeated channel_ready changes nothing.
    assert_eq!(p.a.ch.state_name(), "NORMAL");
    // After one update cycle: no channel_ready any more.
    p.add(Side::Holder, Msat(1_000_000), 1).unwrap();
    p.sign(Side::Holder);
    for n in [&mut p.a, &mut p.b] {
        n.sent.clear();
    }
    p.disconnect();
    p.reconnect();
    for n in [&p.a, &p.b] {
        assert!(n
            .sent
            .iter()
            .any(|m| matches!(m, Message::ChannelReestablish(_))));
        assert!(!n.sent.iter().any(|m| matches!(m, Message::ChannelReady(_))));
    }
}
