//! BOLT 11 interop with an independent implementation: LDK's
//! `lightning-invoice` parses (and checks the signature of) invoices lnwasm
//! writes, and lnwasm decodes invoices LDK writes, field for field.
#![cfg(not(target_arch = "wasm32"))]

use std::str::FromStr;
use std::time::Duration;

use bitcoin::hashes::{sha256, Hash};
use lightning_invoice::{
    Bolt11Invoice, Bolt11InvoiceDescriptionRef, Currency, InvoiceBuilder, RouteHint, RouteHintHop,
    RoutingFees,
};
use lnwasm::invoice::{decode, Description, Fallback, Network, NewInvoice, RouteHintHop as Hop};
use lnwasm::types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};
use lnwasm::wire::features::Features;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

fn hop(k: u8, scid: u64, base: u32, ppm: u32, cltv: u16) -> Hop {
    Hop {
        node_id: PublicKey::from_secret_key(SECP256K1, &key(k)),
        short_channel_id: ShortChannelId(scid),
        fee_base_msat: base,
        fee_proportional_millionths: ppm,
        cltv_expiry_delta: cltv,
    }
}

/// A rich invoice: every field type, several fallbacks and two route hints.
fn rich(network: Network, description: Description, with_n: bool) -> NewInvoice {
    NewInvoice {
        network,
        amount: Some(Msat(123_456_789)),
        timestamp: 1_700_000_000,
        payment_hash: PaymentHash([0x42; 32]),
        payment_secret: PaymentSecret([0x17; 32]),
        description,
        include_payee_node_id: with_n,
        expiry: Some(86_400),
        min_final_cltv_expiry_delta: Some(144),
        fallbacks: vec![
            Fallback::Witness {
                version: 0,
                program: vec![0x11; 20],
            },
            Fallback::Witness {
                version: 0,
                program: vec![0x22; 32],
            },
            Fallback::Witness {
                version: 1,
                program: vec![0x33; 32],
            },
            Fallback::PubkeyHash([0x44; 20]),
            Fallback::ScriptHash([0x55; 20]),
        ],
        route_hints: vec![
            vec![hop(3, 0x0001_0203_0405_0607, 1000, 100, 40)],
            vec![
                hop(4, (700_000 << 40) | (12 << 16) | 1, 0, 1, 144),
                hop(5, 42, 7, 2500, 18),
            ],
        ],
        features: Features::from_bits(&[8, 14, 17]),
        metadata: Some(vec![0x01, 0xfa, 0xfa, 0xf0]),
    }
}

#[test]
fn ldk_accepts_what_lnwasm_writes() {
    let cases = [
        (
            Network::Bitcoin,
            Currency::Bitcoin,
            Description::Direct("☕ coffee, 2 × espresso".into()),
            false,
        ),
        (
            Network::Testnet,
            Currency::BitcoinTestnet,
            Description::Hash([0x99; 32]),
            true,
        ),
        (
            Network::Signet,
            Currency::Signet,
            Description::Direct(String::new()),
            false,
        ),
        (
            Network::Regtest,
            Currency::Regtest,
            Description::Direct("regtest".into()),
            true,
        ),
    ];
    for (network, currency, description, with_n) in cases {
        let new = rich(network, description.clone(), with_n);
        let s = new.sign(&key(1), &[]).unwrap();
        let ldk = Bolt11Invoice::from_str(&s).unwrap_or_else(|e| panic!("LDK rejects {s}: {e:?}"));
        assert_eq!(ldk.currency(), currency);
        assert_eq!(ldk.amount_milli_satoshis(), Some(123_456_789));
        assert_eq!(
            ldk.duration_since_epoch(),
            Duration::from_secs(1_700_000_000)
        );
        assert_eq!(ldk.payment_hash().to_byte_array(), [0x42; 32]);
        assert_eq!(ldk.payment_secret().0, [0x17; 32]);
        match (ldk.description(), &description) {
            (Bolt11InvoiceDescriptionRef::Direct(d), Description::Direct(want)) => {
                assert_eq!(&d.to_string(), want)
            }
            (Bolt11InvoiceDescriptionRef::Hash(h), Description::Hash(want)) => {
                assert_eq!(&h.0.to_byte_array(), want)
            }
            (got, want) => panic!("description {got:?} vs {want:?}"),
        }
        assert_eq!(ldk.expiry_time(), Duration::from_secs(86_400));
        assert_eq!(ldk.min_final_cltv_expiry_delta(), 144);
        assert_eq!(
            ldk.get_payee_pub_key(),
            PublicKey::from_secret_key(SECP256K1, &key(1))
        );
        assert_eq!(ldk.payee_pub_key().is_some(), with_n);
        assert_eq!(ldk.payment_metadata(), Some(&vec![0x01, 0xfa, 0xfa, 0xf0]));
        let features = ldk.features().unwrap();
        assert!(features.requires_variable_length_onion() && features.requires_payment_secret());
        assert!(features.supports_basic_mpp() && !features.requires_basic_mpp());
        let ours: Vec<String> = new
            .fallbacks
            .iter()
            .map(|f| f.to_address(network))
            .collect();
        let theirs: Vec<String> = ldk
            .fallback_addresses()
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(theirs, ours);
        let hints = ldk.route_hints();
        assert_eq!(hints.len(), 2);
        for (h, want) in hints.iter().zip(&new.route_hints) {
            assert_eq!(h.0.len(), want.len());
            for (a, b) in h.0.iter().zip(want) {
                assert_eq!(a.src_node_id, b.node_id);
                assert_eq!(a.short_channel_id, b.short_channel_id.0);
                assert_eq!(a.fees.base_msat, b.fee_base_msat);
                assert_eq!(
                    a.fees.proportional_millionths,
                    b.fee_proportional_millionths
                );
                assert_eq!(a.cltv_expiry_delta, b.cltv_expiry_delta);
            }
        }
        // And LDK re-encodes it to the same string.
        assert_eq!(ldk.to_string(), s);
    }
}

#[test]
fn lnwasm_decodes_what_ldk_writes() {
    let payee = key(9);
    let hint = RouteHint(vec![RouteHintHop {
        src_node_id: PublicKey::from_secret_key(SECP256K1, &key(3)),
        short_channel_id: 0x0001_0203_0405_0607,
        fees: RoutingFees {
            base_msat: 1000,
            proportional_millionths: 100,
        },
        cltv_expiry_delta: 40,
        htlc_minimum_msat: None,
        htlc_maximum_msat: None,
    }]);
    let ldk = InvoiceBuilder::new(Currency::Bitcoin)
        .description("from LDK".into())
        .payment_hash(sha256::Hash::from_byte_array([0x42; 32]))
        .payment_secret(lightning_invoice::PaymentSecret([0x17; 32]))
        .duration_since_epoch(Duration::from_secs(1_700_000_000))
        .min_final_cltv_expiry_delta(80)
        .amount_milli_satoshis(2_500)
        .expiry_time(Duration::from_secs(600))
        .private_route(hint)
        .basic_mpp()
        .build_signed(|hash| SECP256K1.sign_ecdsa_recoverable(hash, &payee))
        .unwrap()
        .to_string();
    let inv = decode(&ldk).unwrap();
    assert_eq!(inv.network(), Network::Bitcoin);
    assert_eq!(inv.amount(), Some(Msat(2_500)));
    assert_eq!(inv.timestamp(), 1_700_000_000);
    assert_eq!(inv.payment_hash(), &PaymentHash([0x42; 32]));
    assert_eq!(inv.payment_secret(), &PaymentSecret([0x17; 32]));
    assert_eq!(inv.description(), &Description::Direct("from LDK".into()));
    assert_eq!(inv.min_final_cltv_expiry_delta(), 80);
    assert_eq!(inv.expiry_seconds(), 600);
    assert_eq!(inv.payee(), &PublicKey::from_secret_key(SECP256K1, &payee));
    assert_eq!(
        inv.route_hints(),
        &[vec![hop(3, 0x0001_0203_0405_0607, 1000, 100, 40)]]
    );
    assert!(inv.features().has_bit(17) || inv.features().has_bit(16));
    assert!(!inv.is_expired_at(1_700_000_599));
    assert!(inv.is_expired_at(1_700_000_600));
}
