//! Cooperative close (`shutdown`, `closing_signed`). Force close and
//! commitments seen on chain are in `channel_onchain.rs`.

#[path = "channel_harness.rs"]
mod harness;

use harness::*;
use lnwasm::channel::{Command, Event, Status};
use lnwasm::tx::{FeeratePerKw, Side};
use lnwasm::types::Msat;

#[test]
fn mutual_close_with_pending_htlc_settled_first() {
    let mut p = open_pair(OpenOpts::default());
    let id = p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    p.sign(Side::Holder);
    // B starts the close while the HTLC is pending.
    p.b.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(1000),
    })
    .unwrap();
    p.settle();
    assert_eq!(p.a.ch.status(), Some(Status::ShuttingDown));
    // New HTLCs are refused, settlement still works.
    assert!(p.add(Side::Holder, Msat(1_000_000), 2).is_err());
    p.b.handle(Command::FulfillHtlc {
        id,
        preimage: preimage(1),
    })
    .unwrap();
    p.b.handle(Command::Sign).unwrap();
    p.settle();
    for n in [&p.a, &p.b] {
        assert_eq!(
            n.ch.status(),
            Some(Status::Closing),
            "{}",
            n.ch.state_name()
        );
        assert!(n
            .events
            .iter()
            .any(|e| matches!(e, Event::MutualClose { .. })));
    }
    let ta = p.a.published.last().unwrap();
    let tb = p.b.published.last().unwrap();
    assert_eq!(ta, tb, "both publish the same closing tx");
    assert_eq!(
        ta.input[0].previous_output,
        p.a.ch.commitments().unwrap().params.funding_outpoint
    );
    // The closing tx pays B its 210_000 sat; A pays the fee.
    let total: u64 = ta.output.iter().map(|o| o.value.to_sat()).sum();
    assert!(ta.output.iter().any(|o| o.value.to_sat() == 210_000));
    assert!(total < 1_000_000);
    // Seen on chain: closed.
    p.a.handle(Command::FundingSpent { tx: ta.clone() })
        .unwrap();
    assert_eq!(p.a.ch.status(), Some(Status::Closed));
}

#[test]
fn close_refused_with_unsigned_updates_and_bad_upfront_script() {
    let mut p = open_pair(OpenOpts::default());
    p.add(Side::Holder, Msat(10_000_000), 1).unwrap();
    let e =
        p.a.ch
            .handle(Command::Close {
                script: None,
                feerate: FeeratePerKw(1000),
            })
            .unwrap_err();
    assert_eq!(lnwasm::error::ErrorCode::code(&e), "INVALID_CHANNEL_STATE");
    p.sign(Side::Holder);
    let e =
        p.a.ch
            .handle(Command::Close {
                script: Some(bitcoin::ScriptBuf::from_bytes(vec![0x51])),
                feerate: FeeratePerKw(1000),
            })
            .unwrap_err();
    assert_eq!(
        lnwasm::error::ErrorCode::code(&e),
        "INVALID_SHUTDOWN_SCRIPT"
    );
}

/// BOLT 2: the closing fee is the funder's money, so the fundee has no
/// maximum: a funder paying far above the fundee's estimate is accepted
/// as proposed (found against LDK, whose funder fee follows its own estimator).
#[test]
fn fundee_accepts_a_closing_fee_above_its_estimate() {
    let mut p = open_pair(OpenOpts::default());
    p.b.handle(Command::FeeEstimate(FeeratePerKw(1000)))
        .unwrap();
    p.a.handle(Command::Close {
        script: None,
        feerate: FeeratePerKw(5000),
    })
    .unwrap();
    p.settle();
    let Some(lnwasm::wire::Message::ClosingSigned(first)) =
        p.a.sent
            .iter()
            .find(|m| matches!(m, lnwasm::wire::Message::ClosingSigned(_)))
            .cloned()
    else {
        panic!("funder sent closing_signed")
    };
    for n in [&p.a, &p.b] {
        assert_eq!(n.ch.status(), Some(Status::Closing), "{:?}", n.events);
        assert!(!n
            .events
            .iter()
            .any(|e| matches!(e, Event::PeerViolation(_))));
    }
    let ta = p.a.published.last().unwrap();
    assert_eq!(ta, p.b.published.last().unwrap());
    let total: u64 = ta.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(
        1_000_000 - total,
        first.fee.0,
        "the funder's first proposal"
    );
}
