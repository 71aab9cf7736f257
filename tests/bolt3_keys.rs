//! BOLT 3 Appendix D (per-commitment secrets) and E (key derivation)
//! vectors, plus the wallet key derivation scheme.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod bolt3_vectors;
use bolt3_vectors::*;

use bitcoin::Network;
use lnwasm::error::ErrorCode;
use lnwasm::keys::*;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn appendix_d_generation() {
    let text = section("## Generation Tests");
    let text = &text[..text.find("## Storage Tests").unwrap()];
    let cases = blocks(text, "name");
    assert_eq!(cases.len(), 5);
    for case in cases {
        let seed = CommitmentSeed(hex32(value(case, "seed")));
        let index = int(value(case, "I"));
        let expected = hex32(value(case, "output"));
        assert_eq!(
            seed.secret_at_index(index).unwrap().0,
            expected,
            "{}",
            value(case, "name")
        );
        // The same through the commitment-number API.
        let n = index_to_commitment_number(index).unwrap();
        assert_eq!(seed.secret(n).unwrap().0, expected);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn appendix_d_storage() {
    let text = section("## Storage Tests");
    let cases = blocks(text, "name");
    assert_eq!(cases.len(), 9);
    let mut errors = 0;
    for case in cases {
        let name = value(case, "name");
        let mut store = CommitmentSecretStore::new();
        let lines: Vec<_> = case.lines().filter_map(kv).collect();
        let mut inserted = vec![];
        for w in lines.windows(3) {
            let [(ki, i), (ks, s), (ko, o)] = w else {
                unreachable!()
            };
            if (*ki, *ks, *ko) != ("I", "secret", "output") {
                continue;
            }
            let index = int(i);
            let secret = PerCommitmentSecret(hex32(s));
            let before = store.clone();
            let r = store.insert_at_index(index, &secret);
            match *o {
                "OK" => {
                    r.unwrap_or_else(|e| panic!("{name}: {index} rejected: {e}"));
                    inserted.push((index, secret));
                }
                "ERROR" => {
                    assert_eq!(r, Err(KeyError::SecretMismatch), "{name}: {index}");
                    assert_eq!(r.unwrap_err().code(), "COMMITMENT_SECRET_MISMATCH");
                    assert!(
                        store == before,
                        "a rejected secret must leave the store unchanged"
                    );
                    errors += 1;
                }
                other => panic!("unknown output {other}"),
            }
        }
        // Everything accepted can be read back.
        for (index, secret) in inserted {
            assert_eq!(store.get_at_index(index), Some(secret), "{name}");
        }
        let round = CommitmentSecretStore::from_bytes(&store.to_bytes()).unwrap();
        assert!(round == store);
    }
    assert_eq!(errors, 8);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn store_long_run_and_ordering() {
    let seed = CommitmentSeed([0x42; 32]);
    let mut store = CommitmentSecretStore::new();
    for n in 0..1100u64 {
        store.insert(n, &seed.secret(n).unwrap()).unwrap();
        assert_eq!(store.next_commitment_number(), n + 1);
    }
    for n in 0..1100u64 {
        assert_eq!(store.get(n), Some(seed.secret(n).unwrap()));
    }
    assert_eq!(store.get(1100), None);
    // Out of order: skipping a number, or repeating one.
    assert_eq!(
        store.insert(1101, &seed.secret(1101).unwrap()),
        Err(KeyError::UnexpectedIndex)
    );
    assert_eq!(
        store.insert(5, &seed.secret(5).unwrap()),
        Err(KeyError::UnexpectedIndex)
    );
    // A wrong secret at an odd index (slot 0) cannot be checked yet; the
    // next secret, at an even index, must derive it and so is rejected.
    let mut s1 = store.clone();
    s1.insert(1100, &PerCommitmentSecret([9; 32])).unwrap();
    assert_eq!(
        s1.insert(1101, &seed.secret(1101).unwrap()),
        Err(KeyError::SecretMismatch)
    );
    // A different seed is caught once a slot above the ones it filled is reached.
    let other = CommitmentSeed([0x43; 32]);
    let mut s2 = store.clone();
    let r = (1100..1200).try_for_each(|n| s2.insert(n, &other.secret(n).unwrap()));
    assert_eq!(r, Err(KeyError::SecretMismatch));
    // Range checks.
    assert_eq!(
        seed.secret(SHACHAIN_MAX_INDEX + 1),
        Err(KeyError::IndexOutOfRange)
    );
    assert_eq!(store.get(u64::MAX), None);
    assert!(CommitmentSecretStore::from_bytes(&[0u8; 10]).is_err());
    let round = CommitmentSecretStore::from_bytes(&store.to_bytes()).unwrap();
    assert_eq!(round.get(77), Some(seed.secret(77).unwrap()));
    // Corrupt one stored secret: the decoder notices.
    let mut bytes = store.to_bytes();
    let last = bytes.len() - 1;
    bytes[last - 41 * 40] ^= 1;
    let _ = CommitmentSecretStore::from_bytes(&bytes); // must not panic
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn appendix_e_key_derivation() {
    let text = section("# Appendix E");
    let base_secret = SecretKey::from_slice(&hex32(value(text, "base_secret"))).unwrap();
    let pcs = PerCommitmentSecret(hex32(value(text, "per_commitment_secret")));
    let base_point = PublicKey::from_slice(&hex(value(text, "base_point"))).unwrap();
    let point = PerCommitmentPoint::from_slice(&hex(value(text, "per_commitment_point"))).unwrap();
    assert_eq!(
        PublicKey::from_secret_key(SECP256K1, &base_secret),
        base_point
    );
    assert_eq!(pcs.point().unwrap(), point);
    // The check of a revealed secret against its point.
    assert!(pcs.is_secret_of(&point));
    let negated = PerCommitmentSecret(pcs.secret_key().unwrap().negate().secret_bytes());
    assert!(!negated.is_secret_of(&point));
    assert!(negated.is_secret_of(&PerCommitmentPoint(point.0.negate(SECP256K1))));
    let mut other = pcs;
    other.0[31] ^= 1;
    assert!(!other.is_secret_of(&point));
    assert!(!PerCommitmentSecret([0; 32]).is_secret_of(&point));
    assert!(!PerCommitmentSecret([0xff; 32]).is_secret_of(&point));

    let localpubkey = hex(value(text, "localpubkey"));
    assert_eq!(
        derive_pubkey(&base_point, &point.0)
            .unwrap()
            .serialize()
            .to_vec(),
        localpubkey
    );
    assert_eq!(
        PaymentBasepoint(base_point)
            .derive(&point)
            .unwrap()
            .serialize()
            .to_vec(),
        localpubkey
    );
    assert_eq!(
        HtlcBasepoint(base_point)
            .derive(&point)
            .unwrap()
            .serialize()
            .to_vec(),
        localpubkey
    );
    assert_eq!(
        DelayedPaymentBasepoint(base_point)
            .derive(&point)
            .unwrap()
            .serialize()
            .to_vec(),
        localpubkey
    );

    let localprivkey = hex32(value(text, "localprivkey"));
    assert_eq!(
        derive_privkey(&base_secret, &point.0)
            .unwrap()
            .secret_bytes(),
        localprivkey
    );

    let revocationpubkey = hex(value(text, "revocationpubkey"));
    assert_eq!(
        derive_revocation_pubkey(&base_point, &point.0)
            .unwrap()
            .serialize()
            .to_vec(),
        revocationpubkey
    );
    assert_eq!(
        RevocationBasepoint(base_point)
            .derive(&point)
            .unwrap()
            .serialize()
            .to_vec(),
        revocationpubkey
    );

    // The same keys through ChannelKeys, whose basepoints are all
    // `base_secret` (the revocation key computed with its secret).
    let keys = ChannelKeys::from_secrets(
        base_secret,
        base_secret,
        base_secret,
        base_secret,
        base_secret,
        CommitmentSeed([0x55; 32]),
    );
    assert_eq!(keys.pubkeys().revocation_basepoint.0, base_point);
    assert_eq!(
        keys.peer_revocation_pubkey(&point)
            .unwrap()
            .serialize()
            .to_vec(),
        revocationpubkey
    );
    assert_eq!(keys.htlc_key(&point).unwrap().secret_bytes(), localprivkey);
    assert_eq!(
        keys.delayed_payment_key(&point).unwrap().secret_bytes(),
        localprivkey
    );

    let revocationprivkey = hex32(value(text, "revocationprivkey"));
    let rk = derive_revocation_privkey(&base_secret, &pcs).unwrap();
    assert_eq!(rk.secret_bytes(), revocationprivkey);
    assert_eq!(
        PublicKey::from_secret_key(SECP256K1, &rk)
            .serialize()
            .to_vec(),
        revocationpubkey
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn malformed_secrets_are_errors() {
    let zero = PerCommitmentSecret([0; 32]);
    assert_eq!(zero.point(), Err(KeyError::InvalidSecretKey));
    let over = PerCommitmentSecret([0xff; 32]);
    assert_eq!(over.point().unwrap_err().code(), "INVALID_SECRET_KEY");
    let base = SecretKey::from_slice(&[1; 32]).unwrap();
    assert!(derive_revocation_privkey(&base, &over).is_err());
    assert!(
        FundingPubkey::from_slice(&[2; 33]).is_err() || FundingPubkey::from_slice(&[2; 33]).is_ok()
    );
    assert_eq!(
        FundingPubkey::from_slice(&[5; 33]),
        Err(KeyError::InvalidPublicKey)
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn wallet_derivation_is_deterministic_and_separated() {
    let seed = [7u8; 32];
    let w = WalletKeys::from_seed(&seed, Network::Bitcoin).unwrap();
    let w2 = WalletKeys::from_seed(&seed, Network::Bitcoin).unwrap();
    let wt = WalletKeys::from_seed(&seed, Network::Testnet).unwrap();
    assert_eq!(w.node_id().unwrap(), w2.node_id().unwrap());
    assert_ne!(w.node_id().unwrap(), wt.node_id().unwrap());

    let i0 = ChannelKeyIndex::new(0).unwrap();
    let i1 = ChannelKeyIndex::new(1).unwrap();
    let k0 = w.channel_keys(i0).unwrap();
    let k0b = w2.channel_keys(i0).unwrap();
    let k1 = w.channel_keys(i1).unwrap();
    assert_eq!(k0.pubkeys(), k0b.pubkeys());
    assert_eq!(
        k0.per_commitment_point(5).unwrap(),
        k0b.per_commitment_point(5).unwrap()
    );
    assert_ne!(k0.pubkeys(), k1.pubkeys());
    let p = k0.pubkeys();
    let all = [
        p.funding_pubkey.0,
        p.revocation_basepoint.0,
        p.payment_basepoint.0,
        p.delayed_payment_basepoint.0,
        p.htlc_basepoint.0,
        w.node_id().unwrap(),
        k0.per_commitment_point(0).unwrap().0,
    ];
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            assert_ne!(all[i], all[j]);
        }
    }
    // Derived private keys match the derived public keys.
    let point = k1.per_commitment_point(3).unwrap();
    let dk = k0.delayed_payment_key(&point).unwrap();
    assert_eq!(
        PublicKey::from_secret_key(SECP256K1, &dk),
        p.delayed_payment_basepoint.derive(&point).unwrap().0
    );
    let hk = k0.htlc_key(&point).unwrap();
    assert_eq!(
        PublicKey::from_secret_key(SECP256K1, &hk),
        p.htlc_basepoint.derive(&point).unwrap().0
    );
    assert_eq!(
        k0.peer_revocation_pubkey(&point).unwrap(),
        p.revocation_basepoint.derive(&point).unwrap()
    );
    for n in 0..8 {
        let pt = k1.per_commitment_point(n).unwrap();
        assert_eq!(
            k0.peer_revocation_pubkey(&pt).unwrap(),
            p.revocation_basepoint.derive(&pt).unwrap()
        );
    }
    let secret = k1.per_commitment_secret(3).unwrap();
    let rk = k0.revocation_key(&secret).unwrap();
    assert_eq!(
        PublicKey::from_secret_key(SECP256K1, &rk),
        p.revocation_basepoint.derive(&point).unwrap().0
    );

    assert_eq!(
        WalletKeys::from_seed(&[0; 15], Network::Bitcoin).unwrap_err(),
        KeyError::InvalidSeedLength
    );
    assert_eq!(
        WalletKeys::from_seed(&[0; 65], Network::Bitcoin)
            .unwrap_err()
            .code(),
        "INVALID_SEED_LENGTH"
    );
    assert_eq!(
        ChannelKeyIndex::new(1 << 31),
        Err(KeyError::InvalidChannelIndex)
    );
    assert!(w
        .channel_keys(ChannelKeyIndex::new(ChannelKeyIndex::MAX).unwrap())
        .is_ok());
}
