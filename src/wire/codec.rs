//! Low-level readers and writers for the BOLT fundamental types.
//!
//! [`Reader`] is a cursor over a borrowed byte slice. Every read checks the
//! remaining length *before* touching (or allocating for) the data, so a
//! hostile length prefix can never make the decoder allocate more than the
//! input itself holds. [`Writer`] appends to a `Vec<u8>` and remembers when a
//! length-prefixed field does not fit its prefix, so encoding is fallible only
//! at [`Writer::finish`].
//!
//! The BOLT 1 integer encodings live here too: big-endian fixed-size
//! integers, [BigSize](bigsize_len), truncated `tu16`/`tu32`/`tu64` and the
//! signed integers of Appendix D.

use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa::Signature, PublicKey};
use bitcoin::Txid;

use super::WireError;
use crate::types::ShortChannelId;

/// A forward-only cursor over an input slice.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// `true` once every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The unconsumed bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Consumes and returns everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Consumes `n` bytes; [`WireError::ShortRead`] (and nothing consumed)
    /// if fewer remain.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::ShortRead);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Consumes exactly `N` bytes into an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `u16` length followed by that many bytes (borrowed).
    pub fn u16_prefixed(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// A BigSize integer, rejecting non-minimal encodings.
    pub fn bigsize(&mut self) -> Result<u64, WireError> {
        match self.u8()? {
            0xff => {
                let v = self.u64()?;
                if v < 0x1_0000_0000 {
                    return Err(WireError::NonCanonicalBigSize);
                }
                Ok(v)
            }
            0xfe => {
                let v = self.u32()?;
                if v < 0x1_0000 {
                    return Err(WireError::NonCanonicalBigSize);
                }
                Ok(u64::from(v))
            }
            0xfd => {
                let v = self.u16()?;
                if v < 0xfd {
                    return Err(WireError::NonCanonicalBigSize);
                }
                Ok(u64::from(v))
            }
            b => Ok(u64::from(b)),
        }
    }

    /// Truncated integer: consumes *all* remaining bytes (at most
    /// `max_bytes`), which must carry no leading zero.
    fn truncated(&mut self, max_bytes: usize) -> Result<u64, WireError> {
        if self.buf.len() > max_bytes {
            return Err(WireError::InvalidLength);
        }
        if self.buf.first() == Some(&0) {
            return Err(WireError::NonMinimalInteger);
        }
        Ok(self
            .rest()
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    /// A `tu16` spanning the rest of the input (used as the last field of a TLV value).
    pub fn tu16(&mut self) -> Result<u16, WireError> {
        Ok(self.truncated(2)? as u16)
    }
    /// A `tu32` spanning the rest of the input.
    pub fn tu32(&mut self) -> Result<u32, WireError> {
        Ok(self.truncated(4)? as u32)
    }
    /// A `tu64` spanning the rest of the input.
    pub fn tu64(&mut self) -> Result<u64, WireError> {
        self.truncated(8)
    }

    /// A compressed secp256k1 point, checked to be on the curve.
    pub fn point(&mut self) -> Result<PublicKey, WireError> {
        PublicKey::from_slice(&self.array::<33>()?).map_err(|_| WireError::InvalidPoint)
    }

    /// A 64-byte compact ECDSA signature (r and s below the curve order).
    pub fn signature(&mut self) -> Result<Signature, WireError> {
        Signature::from_compact(&self.array::<64>()?).map_err(|_| WireError::InvalidSignature)
    }

    pub fn chain_hash(&mut self) -> Result<ChainHash, WireError> {
        Ok(ChainHash::from(self.array::<32>()?))
    }

    /// A `sha256` txid field, in the byte order Bitcoin serializes it.
    pub fn txid(&mut self) -> Result<Txid, WireError> {
        Ok(Txid::from_byte_array(self.array()?))
    }

    pub fn short_channel_id(&mut self) -> Result<ShortChannelId, WireError> {
        Ok(ShortChannelId(self.u64()?))
    }

    /// Fails with [`WireError::InvalidLength`] unless everything was consumed
    /// (used for fixed-size TLV values).
    pub fn expect_end(&self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::InvalidLength)
        }
    }
}

/// Decodes a whole TLV value with `f`, requiring it to consume every byte.
/// A value shorter than its fields is [`WireError::InvalidLength`] too, not
/// a short read of the enclosing message.
pub fn decode_exact<'a, T>(
    value: &'a [u8],
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    let mut r = Reader::new(value);
    let v = f(&mut r).map_err(|e| match e {
        WireError::ShortRead => WireError::InvalidLength,
        e => e,
    })?;
    r.expect_end()?;
    Ok(v)
}

/// An append-only encoder. Length-prefixed writes that overflow their prefix
/// are recorded and reported by [`Writer::finish`].
#[derive(Clone, Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    error: Option<WireError>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }
    /// A writer whose buffer holds `capacity` bytes before it grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
            error: None,
        }
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    /// `u16` length then the bytes; flags an overflow above 65535 bytes.
    pub fn u16_prefixed(&mut self, b: &[u8]) {
        match u16::try_from(b.len()) {
            Ok(n) => {
                self.u16(n);
                self.bytes(b);
            }
            Err(_) => self.fail(WireError::FieldTooLong),
        }
    }
    pub fn bigsize(&mut self, v: u64) {
        let mut tmp = [0u8; 9];
        let n = encode_bigsize(v, &mut tmp);
        self.bytes(&tmp[..n]);
    }
    /// Truncated integer (`tu16`/`tu32`/`tu64`): big-endian without leading zeros.
    pub fn truncated(&mut self, v: u64) {
        let bytes = v.to_be_bytes();
        let skip = (v.leading_zeros() / 8) as usize;
        self.bytes(&bytes[skip..]);
    }
    pub fn point(&mut self, p: &PublicKey) {
        self.bytes(&p.serialize());
    }
    pub fn signature(&mut self, s: &Signature) {
        self.bytes(&s.serialize_compact());
    }
    pub fn chain_hash(&mut self, c: &ChainHash) {
        self.bytes(c.as_ref());
    }
    pub fn txid(&mut self, t: &Txid) {
        self.bytes(t.as_byte_array());
    }
    pub fn short_channel_id(&mut self, s: ShortChannelId) {
        self.u64(s.0);
    }
    /// Appends one TLV record (type, length, value).
    pub fn tlv(&mut self, typ: u64, value: &[u8]) {
        self.bigsize(typ);
        self.bigsize(value.len() as u64);
        self.bytes(value);
    }
    /// Encodes a nested value (e.g. a TLV record value) with `f` on a fresh
    /// writer and returns its bytes; an error there is recorded here too.
    pub fn sub(&mut self, f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut inner = Writer::new();
        f(&mut inner);
        if let Some(e) = inner.error {
            self.fail(e);
        }
        inner.buf
    }
    /// Marks the output invalid; the first error recorded is what
    /// [`Writer::finish`] reports.
    pub fn fail(&mut self, e: WireError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
    /// The encoded bytes, or the first error recorded (e.g.
    /// [`WireError::FieldTooLong`] when a length-prefixed field did not fit).
    pub fn finish(self) -> Result<Vec<u8>, WireError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.buf),
        }
    }
}

/// Writes the BigSize encoding of `v` into `out`, returning its length (1, 3, 5 or 9).
pub fn encode_bigsize(v: u64, out: &mut [u8; 9]) -> usize {
    if v < 0xfd {
        out[0] = v as u8;
        1
    } else if v < 0x1_0000 {
        out[0] = 0xfd;
        out[1..3].copy_from_slice(&(v as u16).to_be_bytes());
        3
    } else if v < 0x1_0000_0000 {
        out[0] = 0xfe;
        out[1..5].copy_from_slice(&(v as u32).to_be_bytes());
        5
    } else {
        out[0] = 0xff;
        out[1..9].copy_from_slice(&v.to_be_bytes());
        9
    }
}

/// The BigSize encoding of `v` as a vector.
pub fn bigsize_to_vec(v: u64) -> Vec<u8> {
    let mut tmp = [0u8; 9];
    let n = encode_bigsize(v, &mut tmp);
    tmp[..n].to_vec()
}

/// Decodes one BigSize from the front of `bytes`: `(value, bytes consumed)`.
pub fn decode_bigsize(bytes: &[u8]) -> Result<(u64, usize), WireError> {
    let mut r = Reader::new(bytes);
    let v = r.bigsize()?;
    Ok((v, bytes.len() - r.remaining()))
}

/// Number of bytes BigSize uses for `v`.
pub fn bigsize_len(v: u64) -> usize {
    match v {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Signed integer (`s8`/`s16`/`s32`/`s64`) in the minimal big-endian two's
/// complement width that holds it (BOLT 1 Appendix D).
pub fn encode_signed_minimal(v: i64) -> Vec<u8> {
    if let Ok(x) = i8::try_from(v) {
        x.to_be_bytes().to_vec()
    } else if let Ok(x) = i16::try_from(v) {
        x.to_be_bytes().to_vec()
    } else if let Ok(x) = i32::try_from(v) {
        x.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

/// Decodes an `s8`, `s16`, `s32` or `s64` chosen by the input length
/// (1, 2, 4 or 8 bytes); other lengths are [`WireError::InvalidLength`].
pub fn decode_signed(bytes: &[u8]) -> Result<i64, WireError> {
    Ok(match bytes.len() {
        1 => i64::from(bytes[0] as i8),
        2 => i64::from(i16::from_be_bytes([bytes[0], bytes[1]])),
        4 => i64::from(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(bytes);
            i64::from_be_bytes(a)
        }
        _ => return Err(WireError::InvalidLength),
    })
}
