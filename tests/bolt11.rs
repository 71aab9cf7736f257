//! Every BOLT 11 example from the spec (tests/vectors/bolt11-vectors.md):
//! valid ones decode to the documented fields and re-encode byte for byte,
//! invalid ones fail with their own error code. Runs natively and in
//! headless Chromium.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use lnwasm::error::ErrorCode;
use lnwasm::invoice::{decode, Description, Fallback, Invoice, Network, NewInvoice, TaggedField};
use lnwasm::types::Msat;
use lnwasm::util::{from_hex, from_hex_array, to_hex};
use secp256k1::{PublicKey, SecretKey, SECP256K1};

const VECTORS: &str = include_str!("vectors/bolt11-vectors.md");
const PRIV_KEY: &str = "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734";
const PAYEE: &str = "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad";
const HIGH_S_PAYEE: &str = "02d0139ce7427d6dfffd26a326c18be754ef1e64672b42694ba5b23ef6e6e7803d";
const HASH_0102: &str = "0001020304050607080900010203040506070809000102030405060708090102";
const SECRET_11: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const CAKE_HASH: &str = "3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1";

/// (node id, short channel id, fee base, fee proportional, CLTV delta).
type HintHop = (&'static str, &'static str, u32, u32, u16);

/// One example from the vectors file.
struct Vector {
    title: String,
    invoice: String,
    valid: bool,
    /// From the "Signature breakdown", when given: r||s hex, recovery flag,
    /// signed data hex, its SHA256 hex.
    signature: Option<String>,
    recovery: Option<u8>,
    signing_data: Option<String>,
    signing_hash: Option<String>,
}

/// Pulls the examples out of the spec's Markdown: a `### title` quote line,
/// then the invoice as the next non-empty line, then optional breakdown
/// lines up to the next title.
fn vectors() -> Vec<Vector> {
    let mut out: Vec<Vector> = Vec::new();
    let mut valid = true;
    let mut want_invoice = false;
    for line in VECTORS.lines() {
        if line.starts_with("# Examples of Invalid Invoices") {
            valid = false;
            continue;
        }
        let text = line.strip_prefix('>').unwrap_or(line).trim();
        if text.starts_with('#') && line.starts_with('>') {
            out.push(Vector {
                title: text.trim_start_matches('#').trim().to_string(),
                invoice: String::new(),
                valid,
                signature: None,
                recovery: None,
                signing_data: None,
                signing_hash: None,
            });
            want_invoice = true;
            continue;
        }
        if want_invoice {
            if !text.is_empty() {
                out.last_mut().unwrap().invoice = text.to_string();
                want_invoice = false;
            }
            continue;
        }
        let Some(v) = out.last_mut() else { continue };
        let field = |suffix: &str| -> Option<String> {
            let t = text.strip_prefix("* `")?;
            let end = t.find('`')?;
            t[end..].contains(suffix).then(|| t[..end].to_string())
        };
        if let Some(h) = field("hex of signature data") {
            v.signature = Some(h);
        } else if let Some(h) = field("recovery flag") {
            v.recovery = Some(h.parse().unwrap());
        } else if let Some(h) = field("hex of data for signing") {
            v.signing_data = Some(h);
        } else if let Some(h) = field("hex of SHA256 of the preimage") {
            v.signing_hash = Some(h);
        }
    }
    out
}

fn find<'a>(all: &'a [Vector], title_start: &str) -> &'a Vector {
    let found: Vec<&Vector> = all
        .iter()
        .filter(|v| v.title.starts_with(title_start))
        .collect();
    assert_eq!(found.len(), 1, "title {title_start:?}");
    found[0]
}

fn key() -> SecretKey {
    SecretKey::from_slice(&from_hex(PRIV_KEY).unwrap()).unwrap()
}

/// What the spec says each valid example contains.
struct Expected {
    title: &'static str,
    network: Network,
    amount_msat: Option<u64>,
    timestamp: u64,
    payment_hash: &'static str,
    description: Result<&'static str, &'static str>,
    expiry: u64,
    min_final_cltv: u64,
    fallbacks: &'static [&'static str],
    /// (node id, scid, fee base, fee ppm, cltv delta) per hop, per hint.
    route_hints: &'static [&'static [HintHop]],
    features: &'static [usize],
    metadata: Option<&'static str>,
}

const TS: u64 = 1496314658;

fn expected() -> Vec<Expected> {
    let base = |title, amount_msat, description| Expected {
        title,
        network: Network::Bitcoin,
        amount_msat,
        timestamp: TS,
        payment_hash: HASH_0102,
        description,
        expiry: 3600,
        min_final_cltv: 18,
        fallbacks: &[],
        route_hints: &[],
        features: &[8, 14],
        metadata: None,
    };
    vec![
        base("Please make a donation", None, Ok("Please consider supporting this project")),
        Expected { expiry: 60, ..base("Please send $3 for a cup of coffee", Some(250_000_000), Ok("1 cup coffee")) },
        Expected {
            expiry: 60,
            ..base("Please send 0.0025 BTC for a cup of nonsense", Some(250_000_000), Ok("ナンセンス 1杯"))
        },
        base("Now send $24", Some(2_000_000_000), Err(CAKE_HASH)),
        Expected {
            network: Network::Testnet,
            fallbacks: &["mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP"],
            ..base("The same, on testnet", Some(2_000_000_000), Err(CAKE_HASH))
        },
        Expected {
            fallbacks: &["1RustyRX2oai4EYYDpQGWvEL62BBGqN9T"],
            route_hints: &[&[
                ("029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", "66051x263430x1800", 1, 20, 3),
                ("039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", "197637x395016x2314", 2, 30, 4),
            ]],
            ..base("On mainnet, with fallback address 1RustyRX2oai4EYYDpQGWvEL62BBGqN9T", Some(2_000_000_000), Err(CAKE_HASH))
        },
        Expected {
            fallbacks: &["3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX"],
            ..base("On mainnet, with fallback (P2SH)", Some(2_000_000_000), Err(CAKE_HASH))
        },
        Expected {
            fallbacks: &["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"],
            ..base("On mainnet, with fallback (P2WPKH)", Some(2_000_000_000), Err(CAKE_HASH))
        },
        Expected {
            fallbacks: &["bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"],
            ..base("On mainnet, with fallback (P2WSH)", Some(2_000_000_000), Err(CAKE_HASH))
        },
        Expected {
            fallbacks: &["bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm"],
            ..base("On mainnet, with fallback (P2TR)", Some(2_000_000_000), Err(CAKE_HASH))
        },
        Expected {
            timestamp: 1572468703,
            payment_hash: "462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f",
            expiry: 604800,
            min_final_cltv: 10,
            route_hints: &[&[(
                "03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7",
                "589390x3312x1",
                1000,
                2500,
                40,
            )]],
            ..base(
                "Please send 0.00967878534 BTC",
                Some(967_878_534),
                Ok("Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, \"Back In My Day\" Sticker x 2, \"I Got Lightning Working\" Sticker x 2 and 1 more items"),
            )
        },
        Expected {
            features: &[8, 14, 99],
            ..base("Please send $30 for coffee beans", Some(2_500_000_000), Ok("coffee beans"))
        },
        Expected { features: &[8, 14, 99], ..base("Same, but all upper case.", Some(2_500_000_000), Ok("coffee beans")) },
        Expected {
            features: &[8, 14, 99],
            ..base("Same, but including fields which must be ignored.", Some(2_500_000_000), Ok("coffee beans"))
        },
        Expected {
            features: &[8, 14, 48],
            metadata: Some("01fafaf0"),
            ..base("Please send 0.01 BTC with payment metadata", Some(1_000_000_000), Ok("payment metadata inside"))
        },
        base("Public-key recovery with high-S signature", None, Ok("Please consider supporting this project")),
    ]
}

fn check_expected(inv: &Invoice, e: &Expected) {
    let t = e.title;
    assert_eq!(inv.network(), e.network, "{t}");
    assert_eq!(inv.amount(), e.amount_msat.map(Msat), "{t}");
    assert_eq!(inv.timestamp(), e.timestamp, "{t}");
    assert_eq!(to_hex(&inv.payment_hash().0), e.payment_hash, "{t}");
    assert_eq!(to_hex(&inv.payment_secret().0), SECRET_11, "{t}");
    match (inv.description(), e.description) {
        (Description::Direct(d), Ok(want)) => assert_eq!(d, want, "{t}"),
        (Description::Hash(h), Err(want)) => assert_eq!(to_hex(h), want, "{t}"),
        (got, want) => panic!("{t}: description {got:?}, expected {want:?}"),
    }
    assert_eq!(inv.expiry_seconds(), e.expiry, "{t}");
    assert_eq!(inv.min_final_cltv_expiry_delta(), e.min_final_cltv, "{t}");
    let fallbacks: Vec<String> = inv
        .fallbacks()
        .iter()
        .map(|f| f.to_address(inv.network()))
        .collect();
    assert_eq!(fallbacks, e.fallbacks, "{t}");
    assert_eq!(inv.route_hints().len(), e.route_hints.len(), "{t}");
    for (got, want) in inv.route_hints().iter().zip(e.route_hints) {
        assert_eq!(got.len(), want.len(), "{t}");
        for (h, w) in got.iter().zip(want.iter()) {
            assert_eq!(to_hex(&h.node_id.serialize()), w.0, "{t}");
            assert_eq!(h.short_channel_id.to_string(), w.1, "{t}");
            assert_eq!(
                (
                    h.fee_base_msat,
                    h.fee_proportional_millionths,
                    h.cltv_expiry_delta
                ),
                (w.2, w.3, w.4),
                "{t}"
            );
        }
    }
    assert_eq!(inv.features().bits().collect::<Vec<_>>(), e.features, "{t}");
    assert_eq!(
        inv.metadata().map(to_hex),
        e.metadata.map(String::from),
        "{t}"
    );
    // The high-S example is the first one with s negated and the recovery
    // id kept. Recovery with that id (what libsecp256k1, and so LND, Core
    // Lightning, Eclair and LDK do) yields a different key than the spec's
    // signer: the invoice is valid, for that other payee.
    let payee = if t.starts_with("Public-key recovery with high-S") {
        HIGH_S_PAYEE
    } else {
        PAYEE
    };
    assert_eq!(to_hex(&inv.payee().serialize()), payee, "{t}");
    assert!(!inv.payee_from_n_field(), "{t}");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn vectors_file_parses() {
    let all = vectors();
    assert_eq!(all.iter().filter(|v| v.valid).count(), 16);
    assert_eq!(all.iter().filter(|v| !v.valid).count(), 10);
    assert!(all.iter().all(|v| !v.invoice.is_empty()));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn valid_vectors_decode_to_their_fields() {
    let all = vectors();
    let exp = expected();
    assert_eq!(exp.len(), all.iter().filter(|v| v.valid).count());
    for e in &exp {
        let v = find(&all, e.title);
        assert!(v.valid);
        let inv =
            decode(&v.invoice).unwrap_or_else(|err| panic!("{}: {err} ({})", e.title, err.code()));
        check_expected(&inv, e);
        // The signature breakdown, where the spec gives one.
        if let Some(sig) = &v.signature {
            let (recid, compact) = inv.signature().serialize_compact();
            assert_eq!(&to_hex(&compact), sig, "{}", e.title);
            assert_eq!(Some(recid.to_i32() as u8), v.recovery, "{}", e.title);
        }
        if let Some(data) = &v.signing_data {
            assert_eq!(
                &to_hex(&inv.raw().signing_preimage().unwrap()),
                data,
                "{}",
                e.title
            );
        }
        if let Some(hash) = &v.signing_hash {
            assert_eq!(
                &to_hex(&inv.raw().signing_hash().unwrap()),
                hash,
                "{}",
                e.title
            );
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn valid_vectors_reencode_byte_for_byte() {
    let all = vectors();
    for v in all.iter().filter(|v| v.valid) {
        let inv = decode(&v.invoice).unwrap();
        let again = inv.raw().sign(&key()).unwrap();
        if v.title.starts_with("Public-key recovery with high-S") {
            // Signing is deterministic and low-S: we get the first example.
            assert_eq!(again, find(&all, "Please make a donation").invoice);
        } else {
            assert_eq!(again, v.invoice.to_lowercase(), "{}", v.title);
        }
    }
}

/// Rebuilds each example from its semantic fields (not its raw field list),
/// in the example's field order, and gets the same string.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn valid_vectors_rebuild_from_fields() {
    let all = vectors();
    let mut rebuilt = 0;
    for v in all.iter().filter(|v| v.valid) {
        if v.title.starts_with("Public-key recovery with high-S")
            || v.title.contains("must be ignored")
        {
            continue;
        }
        let inv = decode(&v.invoice).unwrap();
        let raw = inv.raw();
        let order: Vec<u8> = raw.fields.iter().map(TaggedField::tag).collect();
        let new = NewInvoice {
            network: inv.network(),
            amount: inv.amount(),
            timestamp: inv.timestamp(),
            payment_hash: *inv.payment_hash(),
            payment_secret: *inv.payment_secret(),
            description: inv.description().clone(),
            include_payee_node_id: false,
            expiry: raw.fields.iter().find_map(|f| match f {
                TaggedField::Expiry(x) => Some(*x),
                _ => None,
            }),
            min_final_cltv_expiry_delta: raw.fields.iter().find_map(|f| match f {
                TaggedField::MinFinalCltvExpiryDelta(x) => Some(*x),
                _ => None,
            }),
            fallbacks: inv.fallbacks().to_vec(),
            route_hints: inv.route_hints().to_vec(),
            features: inv.features().clone(),
            metadata: inv.metadata().map(<[u8]>::to_vec),
        };
        assert_eq!(
            new.sign(&key(), &order).unwrap(),
            v.invoice.to_lowercase(),
            "{}",
            v.title
        );
        rebuilt += 1;
    }
    assert_eq!(rebuilt, 14);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn invalid_vectors_fail_with_their_own_code() {
    let all = vectors();
    let cases = [
        (
            "Same, but adding invalid unknown feature 100",
            "UNKNOWN_REQUIRED_FEATURE",
        ),
        ("Bech32 checksum is invalid.", "BAD_CHECKSUM"),
        ("Malformed bech32 string (no 1)", "MISSING_SEPARATOR"),
        ("Malformed bech32 string (mixed case)", "MIXED_CASE"),
        ("Signature is not recoverable.", "UNRECOVERABLE_SIGNATURE"),
        ("String is too short.", "TOO_SHORT"),
        ("Invalid multiplier", "INVALID_MULTIPLIER"),
        ("Invalid sub-millisatoshi precision.", "SUB_MSAT_PRECISION"),
        ("Missing required `s` field.", "MISSING_PAYMENT_SECRET"),
        (
            "Non canonical signature (high-S) with 'n' field defined",
            "HIGH_S_SIGNATURE",
        ),
    ];
    assert_eq!(cases.len(), all.iter().filter(|v| !v.valid).count());
    for (title, code) in cases {
        let v = find(&all, title);
        assert!(!v.valid);
        let err = decode(&v.invoice).expect_err(title);
        assert_eq!(err.code(), code, "{title}: {err}");
    }
    // Each invalid example has its own code.
    let mut codes: Vec<&str> = cases.iter().map(|c| c.1).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), cases.len());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn payee_node_id_field_is_verified() {
    let all = vectors();
    let donation = decode(&find(&all, "Please make a donation").invoice).unwrap();
    let payee = PublicKey::from_secret_key(SECP256K1, &key());
    // Re-sign with an `n` field: decodes, payee taken from n.
    let mut raw = donation.raw().clone();
    raw.fields.push(TaggedField::PayeeNodeId(payee));
    let s = raw.sign(&key()).unwrap();
    let inv = decode(&s).unwrap();
    assert!(inv.payee_from_n_field());
    assert_eq!(inv.payee(), &payee);
    // An `n` field naming someone else: the signature does not verify.
    let other = PublicKey::from_secret_key(SECP256K1, &SecretKey::from_slice(&[7; 32]).unwrap());
    let mut raw = donation.raw().clone();
    raw.fields.insert(0, TaggedField::PayeeNodeId(other));
    let s = raw.sign(&key()).unwrap();
    assert_eq!(decode(&s).unwrap_err().code(), "BAD_SIGNATURE");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn uri_prefix_and_whitespace_are_accepted() {
    let all = vectors();
    let v = &find(&all, "Please make a donation").invoice;
    let with_uri = format!("  lightning:{v}\n");
    assert_eq!(decode(&with_uri).unwrap(), decode(v).unwrap());
    let upper = format!("LIGHTNING:{}", v.to_uppercase());
    assert_eq!(
        decode(&upper).unwrap().payment_hash(),
        decode(v).unwrap().payment_hash()
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fallback_address_round_trip() {
    for (addr, net) in [
        ("mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP", Network::Testnet),
        ("1RustyRX2oai4EYYDpQGWvEL62BBGqN9T", Network::Bitcoin),
        ("3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX", Network::Bitcoin),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            Network::Bitcoin,
        ),
        (
            "bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm",
            Network::Bitcoin,
        ),
        (
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            Network::Regtest,
        ),
    ] {
        let f = Fallback::from_address(addr, net).unwrap();
        assert_eq!(f.to_address(net), addr);
    }
    assert_eq!(
        Fallback::from_address(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            Network::Testnet
        )
        .unwrap_err()
        .code(),
        "FALLBACK_NETWORK_MISMATCH"
    );
    assert_eq!(
        Fallback::from_address("nonsense", Network::Bitcoin)
            .unwrap_err()
            .code(),
        "INVALID_FALLBACK_ADDRESS"
    );
    // A future witness version (v2, 16 bytes) is carried as-is.
    let f = Fallback::Witness {
        version: 2,
        program: vec![0xab; 16],
    };
    let addr = f.to_address(Network::Bitcoin);
    assert!(addr.starts_with("bc1z"), "{addr}");
    assert_eq!(Fallback::from_address(&addr, Network::Bitcoin).unwrap(), f);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn hash_helpers() {
    assert_eq!(
        from_hex_array::<32>(HASH_0102).map(|a| to_hex(&a)),
        Some(HASH_0102.to_string())
    );
}

/// Hostile strings: every truncation and every single-character change of
/// every valid example decodes to a result or an error, never a panic.
/// (Native only: thousands of signature checks are slow in a debug wasm.)
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn mutations_and_truncations_never_panic() {
    const ALPHABET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l1QPb!\xc3";
    let all = vectors();
    let mut accepted = 0;
    for v in all.iter().filter(|v| v.valid) {
        let s = v.invoice.as_bytes();
        for len in 0..s.len() {
            let _ = decode(std::str::from_utf8(&s[..len]).unwrap());
        }
        for i in (0..s.len()).step_by(3) {
            for &c in ALPHABET.iter().filter(|&&c| !c.eq_ignore_ascii_case(&s[i])) {
                let mut m = s.to_vec();
                m[i] = c;
                if let Ok(m) = std::str::from_utf8(&m) {
                    if decode(m).is_ok() {
                        accepted += 1;
                    }
                }
            }
        }
    }
    // A changed character breaks the checksum (or, in the human-readable
    // part's case, changes nothing decode accepts): nothing else decodes.
    assert_eq!(accepted, 0);
    // Lengths far past the limit fail fast with their own code.
    assert_eq!(decode(&"q".repeat(100_000)).unwrap_err().code(), "TOO_LONG");
}
