//! The persisted form of a funded channel: a hand-written, versioned binary
//! encoding built on the wire codec.
//!
//! Layout: `b"LNCH"`, a format version byte ([`VERSION`]), then the fields
//! of [`Funded`] in a fixed order (see `encode`). Decoding never panics and
//! never allocates more than the input length justifies (every element read
//! consumes input before it is pushed). A new field means a new version;
//! older versions stay decodable.
//!
//! Version 2 appends the on-chain resolution state ([`OnchainState`]):
//! confirmations, reported spends and the ids of HTLCs settled on chain.
//! A version 1 record decodes with an empty one.
//!
//! Version 3 keeps the sealed chunks of the peer's revoked commitments out
//! of the record ([`RevokedChunk`], written once each by the store): where
//! versions 1 and 2 list every revoked commitment, it lists those after the
//! sealed chunks, and it ends with the number of sealed chunks. (A version 3
//! record without sealed chunks is a version 2 one plus four zero bytes.)

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, ScriptBuf, Transaction, Txid};

use crate::keys::{
    ChannelKeyIndex, ChannelPublicKeys, CommitmentSecretStore, DelayedPaymentBasepoint,
    FundingPubkey, HtlcBasepoint, PaymentBasepoint, PerCommitmentPoint, RevocationBasepoint,
};
use crate::tx::{ChannelParams, ChannelType, FeeratePerKw, Htlc, HtlcDirection, PartyParams, Side};
use crate::types::{Msat, PaymentHash, Sat, ShortChannelId};
use crate::wire::codec::{Reader, Writer};
use crate::wire::{ChannelId, OnionPacket, PaymentPreimage, WireError, ONION_PACKET_LEN};

use super::commitments::{
    Changes, Commitments, Limits, LocalCommit, RemoteCommit, RemoteNext, RevokedCommit,
};
use super::revoked::{RevokedList, CHUNK};
use super::spec::{HtlcAdd, HtlcDir, Spec, SpecHtlc, Update};
use super::{ChannelError, Funded, Negotiation, OnchainState, RevokedChunk, Status};

const MAGIC: &[u8; 4] = b"LNCH";
/// Current format version.
pub const VERSION: u8 = 3;

fn bad(_: WireError) -> ChannelError {
    ChannelError::CorruptRecord("truncated or invalid field")
}

// ----- writing -----

fn w_bool(w: &mut Writer, b: bool) {
    w.u8(u8::from(b));
}
fn w_keys(w: &mut Writer, k: &ChannelPublicKeys) {
    w.point(&k.funding_pubkey.0);
    w.point(&k.revocation_basepoint.0);
    w.point(&k.payment_basepoint.0);
    w.point(&k.delayed_payment_basepoint.0);
    w.point(&k.htlc_basepoint.0);
}
fn w_party(w: &mut Writer, p: &PartyParams) {
    w_keys(w, &p.keys);
    w.u64(p.dust_limit.0);
    w.u16(p.to_self_delay);
}
fn w_limits(w: &mut Writer, l: &Limits) {
    w.u64(l.htlc_minimum.0);
    w.u16(l.max_accepted_htlcs);
    w.u64(l.max_in_flight.0);
    w.u64(l.reserve.0);
}
fn w_add(w: &mut Writer, a: &HtlcAdd) {
    w.u64(a.id);
    w.u64(a.amount.0);
    w.bytes(&a.payment_hash.0);
    w.u32(a.cltv_expiry);
    w.bytes(&a.onion.0[..]);
}
fn w_update(w: &mut Writer, u: &Update) {
    match u {
        Update::Add(a) => {
            w.u8(0);
            w_add(w, a);
        }
        Update::Fulfill { id, preimage } => {
            w.u8(1);
            w.u64(*id);
            w.bytes(&preimage.0);
        }
        Update::Fail { id, reason } => {
            w.u8(2);
            w.u64(*id);
            w.u16_prefixed(reason);
        }
        Update::FailMalformed {
            id,
            sha256_of_onion,
            failure_code,
        } => {
            w.u8(3);
            w.u64(*id);
            w.bytes(sha256_of_onion);
            w.u16(*failure_code);
        }
        Update::Fee(f) => {
            w.u8(4);
            w.u32(f.0);
        }
    }
}
fn w_list<T>(w: &mut Writer, v: &[T], f: impl Fn(&mut Writer, &T)) {
    w.u32(v.len() as u32);
    for x in v {
        f(w, x);
    }
}
/// Revoked commitments as the record encodes them, without the count.
pub(super) fn w_revoked_entries(w: &mut Writer, v: &[RevokedCommit]) {
    for r in v {
        w.u64(r.index);
        w.txid(&r.txid);
        w.u64(r.to_local.0);
        w.u64(r.to_remote.0);
        w.u32(r.feerate.0);
        w_list(w, &r.htlcs, |w, h| {
            w.u8(if h.direction == HtlcDirection::Offered {
                0
            } else {
                1
            });
            w.u64(h.amount.0);
            w.bytes(&h.payment_hash.0);
            w.u32(h.cltv_expiry);
        });
    }
}

/// [`w_revoked_entries`] into a buffer of its own.
pub(super) fn encode_revoked(v: &[RevokedCommit]) -> Vec<u8> {
    let mut w = Writer::new();
    w_revoked_entries(&mut w, v);
    // Only fixed-size fields and u32 counts: the writer cannot fail.
    w.finish().unwrap_or_default()
}

fn w_changes(w: &mut Writer, c: &Changes) {
    w_list(w, &c.proposed, w_update);
    w_list(w, &c.signed, w_update);
    w_list(w, &c.acked, w_update);
}
fn w_spec(w: &mut Writer, s: &Spec) {
    w_list(w, &s.htlcs, |w, h| {
        w.u8(if h.dir == HtlcDir::Offered { 0 } else { 1 });
        w_add(w, &h.add);
    });
    w.u64(s.to_local.0);
    w.u64(s.to_remote.0);
    w.u32(s.feerate.0);
}
fn w_remote(w: &mut Writer, r: &RemoteCommit) {
    w.u64(r.index);
    w_spec(w, &r.spec);
    w.point(&r.point.0);
    w.txid(&r.txid);
}
fn w_opt_script(w: &mut Writer, s: &Option<ScriptBuf>) {
    w_bool(w, s.is_some());
    if let Some(s) = s {
        w.u16_prefixed(s.as_bytes());
    }
}
fn w_opt_scid(w: &mut Writer, s: &Option<ShortChannelId>) {
    w_bool(w, s.is_some());
    if let Some(s) = s {
        w.u64(s.0);
    }
}
fn w_tx(w: &mut Writer, t: &Transaction) {
    let b = serialize(t);
    w.u32(b.len() as u32);
    w.bytes(&b);
}

/// Room for what [`encode`] writes: parameters, commitments, pending
/// changes (an `update_add_htlc` carries a 1366-byte onion), the 2017-byte
/// secret store and the unsealed revoked commitments.
const ENCODE_ROOM: usize = 16 * 1024;

/// The newest sealed chunk of revoked commitments, which a record to
/// persist carries (see [`super::ChannelRecord`]).
pub fn encode_chunks(f: &Funded) -> Vec<RevokedChunk> {
    f.c.revoked
        .last_sealed()
        .map(|(index, data)| RevokedChunk {
            index: index as u32,
            data: data.to_vec(),
        })
        .into_iter()
        .collect()
}

/// Encodes a funded channel, but for its sealed chunks of revoked
/// commitments ([`encode_chunks`]).
pub fn encode(f: &Funded) -> Vec<u8> {
    let mut w = Writer::with_capacity(ENCODE_ROOM);
    w.bytes(MAGIC);
    w.u8(VERSION);
    w.u32(f.key_index.get());
    let c = &f.c;
    w.bytes(&c.channel_id.0);
    let p = &c.params;
    w.txid(&p.funding_outpoint.txid);
    w.u32(p.funding_outpoint.vout);
    w.u64(p.funding_amount.0);
    w.u8(if p.channel_type == ChannelType::Anchors {
        1
    } else {
        0
    });
    w.u8(if p.opener == Side::Holder { 0 } else { 1 });
    w_party(&mut w, &p.holder);
    w_party(&mut w, &p.counterparty);
    w_limits(&mut w, &c.ours);
    w_limits(&mut w, &c.theirs);
    w.u64(c.local_commit.index);
    w_spec(&mut w, &c.local_commit.spec);
    w.signature(&c.local_commit.sig);
    w_list(&mut w, &c.local_commit.htlc_sigs, |w, s| w.signature(s));
    w_remote(&mut w, &c.remote_commit);
    match &c.remote_next {
        RemoteNext::Unknown => w.u8(0),
        RemoteNext::Point(p) => {
            w.u8(1);
            w.point(&p.0);
        }
        RemoteNext::Waiting {
            commit,
            sent_after_local_index,
        } => {
            w.u8(2);
            w_remote(&mut w, commit);
            w.u64(*sent_after_local_index);
        }
    }
    w_changes(&mut w, &c.local_changes);
    w_changes(&mut w, &c.remote_changes);
    w.u64(c.local_next_htlc_id);
    w.u64(c.remote_next_htlc_id);
    w.bytes(&c.remote_secrets.to_bytes());
    // The unsealed ones here (as versions 1 and 2 wrote them all); how
    // many chunks are sealed, at the end.
    w.u32(c.revoked.tail().len() as u32);
    w_revoked_entries(&mut w, c.revoked.tail());
    w.u8(match f.status {
        Status::Opening => 0,
        Status::Normal => 1,
        Status::ShuttingDown => 2,
        Status::Negotiating => 3,
        Status::Closing => 4,
        Status::WaitingForRemoteClose => 5,
        Status::Closed => 6,
    });
    w.u32(f.minimum_depth);
    w_bool(&mut w, f.zero_conf);
    w_bool(&mut w, f.funding_tx.is_some());
    if let Some(t) = &f.funding_tx {
        w_tx(&mut w, t);
    }
    w_bool(&mut w, f.funding_confirmed);
    w_bool(&mut w, f.ready_sent);
    w_bool(&mut w, f.ready_received);
    w_opt_scid(&mut w, &f.scid);
    w_opt_scid(&mut w, &f.our_alias);
    w_opt_scid(&mut w, &f.their_alias);
    w_opt_script(&mut w, &f.our_upfront_script);
    w_opt_script(&mut w, &f.their_upfront_script);
    w_opt_script(&mut w, &f.local_shutdown);
    w_opt_script(&mut w, &f.remote_shutdown);
    w_bool(&mut w, f.negotiation.is_some());
    if let Some(n) = &f.negotiation {
        w.u32(n.feerate.0);
        for v in [n.last_sent, n.last_received] {
            w_bool(&mut w, v.is_some());
            w.u64(v.map(|s| s.0).unwrap_or(0));
        }
    }
    w_list(&mut w, &f.closing_txs, w_tx);
    w.u64(f.created_at);
    let o = &f.onchain;
    w_list(&mut w, &o.confirmed, |w, (t, h)| {
        w.txid(t);
        w.u32(*h);
    });
    w_list(&mut w, &o.spends, |w, (op, t)| {
        w.txid(&op.txid);
        w.u32(op.vout);
        w.txid(t);
    });
    w_list(&mut w, &o.resolved, |w, id| w.u64(*id));
    w.u32(c.revoked.sealed_count() as u32);
    // Nothing above can exceed a length prefix except a >64 KiB failure
    // reason or script, which the wire layer never produces.
    w.finish().unwrap_or_default()
}

// ----- reading -----

type R<'a, 'b> = &'b mut Reader<'a>;

fn r_bool(r: R) -> Result<bool, ChannelError> {
    match r.u8().map_err(bad)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ChannelError::CorruptRecord("bad boolean")),
    }
}
fn r_keys(r: R) -> Result<ChannelPublicKeys, ChannelError> {
    Ok(ChannelPublicKeys {
        funding_pubkey: FundingPubkey(r.point().map_err(bad)?),
        revocation_basepoint: RevocationBasepoint(r.point().map_err(bad)?),
        payment_basepoint: PaymentBasepoint(r.point().map_err(bad)?),
        delayed_payment_basepoint: DelayedPaymentBasepoint(r.point().map_err(bad)?),
        htlc_basepoint: HtlcBasepoint(r.point().map_err(bad)?),
    })
}
fn r_party(r: R) -> Result<PartyParams, ChannelError> {
    Ok(PartyParams {
        keys: r_keys(r)?,
        dust_limit: Sat(r.u64().map_err(bad)?),
        to_self_delay: r.u16().map_err(bad)?,
    })
}
fn r_limits(r: R) -> Result<Limits, ChannelError> {
    Ok(Limits {
        htlc_minimum: Msat(r.u64().map_err(bad)?),
        max_accepted_htlcs: r.u16().map_err(bad)?,
        max_in_flight: Msat(r.u64().map_err(bad)?),
        reserve: Sat(r.u64().map_err(bad)?),
    })
}
fn r_add(r: R) -> Result<HtlcAdd, ChannelError> {
    let id = r.u64().map_err(bad)?;
    let amount = Msat(r.u64().map_err(bad)?);
    let payment_hash = PaymentHash(r.array().map_err(bad)?);
    let cltv_expiry = r.u32().map_err(bad)?;
    let onion: [u8; ONION_PACKET_LEN] = r.array().map_err(bad)?;
    Ok(HtlcAdd {
        id,
        amount,
        payment_hash,
        cltv_expiry,
        onion: OnionPacket(Box::new(onion)),
    })
}
fn r_update(r: R) -> Result<Update, ChannelError> {
    Ok(match r.u8().map_err(bad)? {
        0 => Update::Add(r_add(r)?),
        1 => Update::Fulfill {
            id: r.u64().map_err(bad)?,
            preimage: PaymentPreimage(r.array().map_err(bad)?),
        },
        2 => Update::Fail {
            id: r.u64().map_err(bad)?,
            reason: r.u16_prefixed().map_err(bad)?.to_vec(),
        },
        3 => Update::FailMalformed {
            id: r.u64().map_err(bad)?,
            sha256_of_onion: r.array().map_err(bad)?,
            failure_code: r.u16().map_err(bad)?,
        },
        4 => Update::Fee(FeeratePerKw(r.u32().map_err(bad)?)),
        _ => return Err(ChannelError::CorruptRecord("unknown update tag")),
    })
}
fn r_list<'a, T>(
    r: &mut Reader<'a>,
    f: impl Fn(&mut Reader<'a>) -> Result<T, ChannelError>,
) -> Result<Vec<T>, ChannelError> {
    let n = r.u32().map_err(bad)?;
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(f(r)?);
    }
    Ok(v)
}
fn r_changes(r: R) -> Result<Changes, ChannelError> {
    Ok(Changes {
        proposed: r_list(r, r_update)?,
        signed: r_list(r, r_update)?,
        acked: r_list(r, r_update)?,
    })
}
fn r_spec(r: R) -> Result<Spec, ChannelError> {
    let htlcs = r_list(r, |r| {
        let dir = match r.u8().map_err(bad)? {
            0 => HtlcDir::Offered,
            1 => HtlcDir::Received,
            _ => return Err(ChannelError::CorruptRecord("bad direction")),
        };
        Ok(SpecHtlc {
            dir,
            add: r_add(r)?,
        })
    })?;
    Ok(Spec {
        htlcs,
        to_local: Msat(r.u64().map_err(bad)?),
        to_remote: Msat(r.u64().map_err(bad)?),
        feerate: FeeratePerKw(r.u32().map_err(bad)?),
    })
}
fn r_remote(r: R) -> Result<RemoteCommit, ChannelError> {
    Ok(RemoteCommit {
        index: r.u64().map_err(bad)?,
        spec: r_spec(r)?,
        point: PerCommitmentPoint(r.point().map_err(bad)?),
        txid: r.txid().map_err(bad)?,
    })
}
fn r_opt_script(r: R) -> Result<Option<ScriptBuf>, ChannelError> {
    Ok(if r_bool(r)? {
        Some(ScriptBuf::from_bytes(
            r.u16_prefixed().map_err(bad)?.to_vec(),
        ))
    } else {
        None
    })
}
fn r_opt_scid(r: R) -> Result<Option<ShortChannelId>, ChannelError> {
    Ok(if r_bool(r)? {
        Some(ShortChannelId(r.u64().map_err(bad)?))
    } else {
        None
    })
}
fn r_tx(r: R) -> Result<Transaction, ChannelError> {
    let n = r.u32().map_err(bad)? as usize;
    let b = r.bytes(n).map_err(bad)?;
    deserialize(b).map_err(|_| ChannelError::CorruptRecord("bad transaction"))
}

/// One revoked commitment as [`w_revoked_entries`] writes it.
fn r_revoked(r: R) -> Result<RevokedCommit, ChannelError> {
    Ok(RevokedCommit {
        index: r.u64().map_err(bad)?,
        txid: r.txid().map_err(bad)?,
        to_local: Msat(r.u64().map_err(bad)?),
        to_remote: Msat(r.u64().map_err(bad)?),
        feerate: FeeratePerKw(r.u32().map_err(bad)?),
        htlcs: r_list(r, |r| {
            let direction = match r.u8().map_err(bad)? {
                0 => HtlcDirection::Offered,
                1 => HtlcDirection::Received,
                _ => return Err(ChannelError::CorruptRecord("bad direction")),
            };
            Ok(Htlc {
                direction,
                amount: Msat(r.u64().map_err(bad)?),
                payment_hash: PaymentHash(r.array().map_err(bad)?),
                cltv_expiry: r.u32().map_err(bad)?,
            })
        })?,
    })
}

/// Decodes [`encode`]'s output; `chunks` are the record's sealed chunks of
/// revoked commitments (all of them, in any order; unused by versions 1
/// and 2).
pub fn decode(bytes: &[u8], chunks: &[RevokedChunk]) -> Result<Funded, ChannelError> {
    let mut rd = Reader::new(bytes);
    let r = &mut rd;
    if r.array::<4>().map_err(bad)? != *MAGIC {
        return Err(ChannelError::CorruptRecord("not a channel record"));
    }
    let version = r.u8().map_err(bad)?;
    if !(1..=VERSION).contains(&version) {
        return Err(ChannelError::CorruptRecord("unknown record version"));
    }
    let key_index = ChannelKeyIndex::new(r.u32().map_err(bad)?)
        .map_err(|_| ChannelError::CorruptRecord("key index"))?;
    let channel_id = ChannelId(r.array().map_err(bad)?);
    let txid: Txid = r.txid().map_err(bad)?;
    let vout = r.u32().map_err(bad)?;
    let funding_amount = Sat(r.u64().map_err(bad)?);
    let channel_type = match r.u8().map_err(bad)? {
        0 => ChannelType::StaticRemoteKey,
        1 => ChannelType::Anchors,
        _ => return Err(ChannelError::CorruptRecord("channel type")),
    };
    let opener = match r.u8().map_err(bad)? {
        0 => Side::Holder,
        1 => Side::Counterparty,
        _ => return Err(ChannelError::CorruptRecord("opener")),
    };
    let holder = r_party(r)?;
    let counterparty = r_party(r)?;
    let params = ChannelParams {
        funding_outpoint: OutPoint { txid, vout },
        funding_amount,
        channel_type,
        opener,
        holder,
        counterparty,
    };
    let ours = r_limits(r)?;
    let theirs = r_limits(r)?;
    let local_commit = LocalCommit {
        index: r.u64().map_err(bad)?,
        spec: r_spec(r)?,
        sig: r.signature().map_err(bad)?,
        htlc_sigs: r_list(r, |r| r.signature().map_err(bad))?,
    };
    let remote_commit = r_remote(r)?;
    let remote_next = match r.u8().map_err(bad)? {
        0 => RemoteNext::Unknown,
        1 => RemoteNext::Point(PerCommitmentPoint(r.point().map_err(bad)?)),
        2 => RemoteNext::Waiting {
            commit: r_remote(r)?,
            sent_after_local_index: r.u64().map_err(bad)?,
        },
        _ => return Err(ChannelError::CorruptRecord("remote next")),
    };
    let local_changes = r_changes(r)?;
    let remote_changes = r_changes(r)?;
    let local_next_htlc_id = r.u64().map_err(bad)?;
    let remote_next_htlc_id = r.u64().map_err(bad)?;
    let remote_secrets = CommitmentSecretStore::from_bytes(r.bytes(8 + 49 * 41).map_err(bad)?)
        .map_err(|_| ChannelError::CorruptRecord("secret store"))?;
    // Versions 1 and 2: all of them; version 3: those after the sealed
    // chunks (counted at the end).
    let revoked_tail = r_list(r, r_revoked)?;
    let status = match r.u8().map_err(bad)? {
        0 => Status::Opening,
        1 => Status::Normal,
        2 => Status::ShuttingDown,
        3 => Status::Negotiating,
        4 => Status::Closing,
        5 => Status::WaitingForRemoteClose,
        6 => Status::Closed,
        _ => return Err(ChannelError::CorruptRecord("status")),
    };
    let minimum_depth = r.u32().map_err(bad)?;
    let zero_conf = r_bool(r)?;
    let funding_tx = if r_bool(r)? { Some(r_tx(r)?) } else { None };
    let funding_confirmed = r_bool(r)?;
    let ready_sent = r_bool(r)?;
    let ready_received = r_bool(r)?;
    let scid = r_opt_scid(r)?;
    let our_alias = r_opt_scid(r)?;
    let their_alias = r_opt_scid(r)?;
    let our_upfront_script = r_opt_script(r)?;
    let their_upfront_script = r_opt_script(r)?;
    let local_shutdown = r_opt_script(r)?;
    let remote_shutdown = r_opt_script(r)?;
    let negotiation = if r_bool(r)? {
        let feerate = FeeratePerKw(r.u32().map_err(bad)?);
        let mut v = [None, None];
        for slot in &mut v {
            let some = r_bool(r)?;
            let x = r.u64().map_err(bad)?;
            *slot = some.then_some(Sat(x));
        }
        Some(Negotiation {
            feerate,
            last_sent: v[0],
            last_received: v[1],
        })
    } else {
        None
    };
    let closing_txs = r_list(r, r_tx)?;
    let created_at = r.u64().map_err(bad)?;
    let onchain = if version >= 2 {
        OnchainState {
            confirmed: r_list(r, |r| Ok((r.txid().map_err(bad)?, r.u32().map_err(bad)?)))?,
            spends: r_list(r, |r| {
                let txid = r.txid().map_err(bad)?;
                let vout = r.u32().map_err(bad)?;
                Ok((OutPoint { txid, vout }, r.txid().map_err(bad)?))
            })?,
            resolved: r_list(r, |r| r.u64().map_err(bad))?,
        }
    } else {
        OnchainState::default()
    };
    let revoked = if version >= 3 {
        let sealed = r.u32().map_err(bad)? as usize;
        // Each chunk must be there: `sealed` cannot ask for more than exist.
        if sealed > chunks.len() {
            return Err(ChannelError::CorruptRecord("revoked commitments missing"));
        }
        // By position (stores hand them in order, but need not).
        let mut by_index: Vec<Option<&RevokedChunk>> = vec![None; sealed];
        for c in chunks {
            if let Some(slot) = by_index.get_mut(c.index as usize) {
                *slot = Some(c);
            }
        }
        let mut decoded = Vec::with_capacity(sealed);
        for chunk in by_index {
            let chunk = chunk.ok_or(ChannelError::CorruptRecord("revoked commitments missing"))?;
            let mut cr = Reader::new(&chunk.data);
            let mut items = Vec::with_capacity(CHUNK);
            for _ in 0..CHUNK {
                items.push(r_revoked(&mut cr)?);
            }
            if !cr.is_empty() {
                return Err(ChannelError::CorruptRecord("revoked chunk length"));
            }
            decoded.push((items, chunk.data.clone()));
        }
        RevokedList::from_sealed(decoded, revoked_tail)
    } else {
        revoked_tail.into()
    };
    r.expect_end()
        .map_err(|_| ChannelError::CorruptRecord("trailing bytes"))?;
    let _ = Txid::all_zeros;
    Ok(Funded {
        key_index,
        c: Commitments {
            channel_id,
            params,
            ours,
            theirs,
            local_commit,
            remote_commit,
            remote_next,
            local_changes,
            remote_changes,
            local_next_htlc_id,
            remote_next_htlc_id,
            remote_secrets,
            revoked,
            own_cache: Default::default(),
        },
        status,
        minimum_depth,
        zero_conf,
        funding_tx,
        funding_confirmed,
        ready_sent,
        ready_received,
        scid,
        our_alias,
        their_alias,
        our_upfront_script,
        their_upfront_script,
        local_shutdown,
        remote_shutdown,
        negotiation,
        closing_txs,
        created_at,
        onchain,
    })
}
