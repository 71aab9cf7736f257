//! BOLT 3 witness scripts.

use bitcoin::hashes::{hash160, ripemd160, Hash};
use bitcoin::opcodes::all::*;
use bitcoin::script::Builder;
use bitcoin::{CompressedPublicKey, ScriptBuf};
use secp256k1::PublicKey;

use crate::keys::{DelayedPubkey, FundingPubkey, HtlcPubkey, RevocationPubkey};
use crate::types::PaymentHash;

/// `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG` with the two funding keys in
/// lexicographic order of their compressed encodings.
pub fn funding_script(a: &FundingPubkey, b: &FundingPubkey) -> ScriptBuf {
    let (k1, k2) = sorted(a, b);
    Builder::new()
        .push_int(2)
        .push_slice(k1.serialize())
        .push_slice(k2.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

/// The two funding keys in script order (`pubkey1`, `pubkey2`).
pub fn sorted<'a>(
    a: &'a FundingPubkey,
    b: &'a FundingPubkey,
) -> (&'a FundingPubkey, &'a FundingPubkey) {
    if a.serialize() <= b.serialize() {
        (a, b)
    } else {
        (b, a)
    }
}

/// The `to_local` script, also the output script of HTLC-success and
/// HTLC-timeout transactions:
/// `OP_IF <revocationpubkey> OP_ELSE to_self_delay OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG`.
pub fn to_local_script(
    revocation: &RevocationPubkey,
    to_self_delay: u16,
    delayed: &DelayedPubkey,
) -> ScriptBuf {
    Builder::new()
        .push_opcode(OP_IF)
        .push_slice(revocation.serialize())
        .push_opcode(OP_ELSE)
        .push_int(i64::from(to_self_delay))
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP)
        .push_slice(delayed.serialize())
        .push_opcode(OP_ENDIF)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// The anchors `to_remote` script: `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CSV`.
pub fn to_remote_anchors_script(remote: &PublicKey) -> ScriptBuf {
    Builder::new()
        .push_slice(remote.serialize())
        .push_opcode(OP_CHECKSIGVERIFY)
        .push_int(1)
        .push_opcode(OP_CSV)
        .into_script()
}

/// The P2WPKH `to_remote` output script of `option_static_remotekey`.
pub fn p2wpkh(key: &PublicKey) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(*key).wpubkey_hash())
}

/// The anchor script:
/// `<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CSV OP_ENDIF`.
pub fn anchor_script(funding: &FundingPubkey) -> ScriptBuf {
    Builder::new()
        .push_slice(funding.serialize())
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_IFDUP)
        .push_opcode(OP_NOTIF)
        .push_int(16)
        .push_opcode(OP_CSV)
        .push_opcode(OP_ENDIF)
        .into_script()
}

/// Offered HTLC script (HTLC offered by the commitment's owner, the "local" node).
pub fn offered_htlc_script(
    revocation: &RevocationPubkey,
    local_htlc: &HtlcPubkey,
    remote_htlc: &HtlcPubkey,
    payment_hash: &PaymentHash,
    anchors: bool,
) -> ScriptBuf {
    let b = Builder::new()
        .push_opcode(OP_DUP)
        .push_opcode(OP_HASH160)
        .push_slice(hash160::Hash::hash(&revocation.serialize()).to_byte_array())
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ELSE)
        .push_slice(remote_htlc.serialize())
        .push_opcode(OP_SWAP)
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_NOTIF)
        .push_opcode(OP_DROP)
        .push_int(2)
        .push_opcode(OP_SWAP)
        .push_slice(local_htlc.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .push_opcode(OP_ELSE)
        .push_opcode(OP_HASH160)
        .push_slice(ripemd160::Hash::hash(&payment_hash.0).to_byte_array())
        .push_opcode(OP_EQUALVERIFY)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ENDIF);
    let b = if anchors {
        b.push_int(1).push_opcode(OP_CSV).push_opcode(OP_DROP)
    } else {
        b
    };
    b.push_opcode(OP_ENDIF).into_script()
}

/// Received HTLC script (HTLC received by the commitment's owner).
pub fn received_htlc_script(
    revocation: &RevocationPubkey,
    local_htlc: &HtlcPubkey,
    remote_htlc: &HtlcPubkey,
    payment_hash: &PaymentHash,
    cltv_expiry: u32,
    anchors: bool,
) -> ScriptBuf {
    let b = Builder::new()
        .push_opcode(OP_DUP)
        .push_opcode(OP_HASH160)
        .push_slice(hash160::Hash::hash(&revocation.serialize()).to_byte_array())
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ELSE)
        .push_slice(remote_htlc.serialize())
        .push_opcode(OP_SWAP)
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_HASH160)
        .push_slice(ripemd160::Hash::hash(&payment_hash.0).to_byte_array())
        .push_opcode(OP_EQUALVERIFY)
        .push_int(2)
        .push_opcode(OP_SWAP)
        .push_slice(local_htlc.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .push_opcode(OP_ELSE)
        .push_opcode(OP_DROP)
        .push_int(i64::from(cltv_expiry))
        .push_opcode(OP_CLTV)
        .push_opcode(OP_DROP)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ENDIF);
    let b = if anchors {
        b.push_int(1).push_opcode(OP_CSV).push_opcode(OP_DROP)
    } else {
        b
    };
    b.push_opcode(OP_ENDIF).into_script()
}
