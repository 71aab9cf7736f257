//! BOLT 1 type-length-value streams.
//!
//! A stream is a sequence of `(bigsize type, bigsize length, value)` records
//! with strictly increasing types. [`TlvReader`] walks a stream without
//! allocating and enforces the structural rules (minimal BigSize, strictly
//! ascending types, no duplicates, no truncation). [`decode_stream`] adds
//! the "it's OK to be odd" rule on top: a caller-supplied closure decodes the
//! types it knows, unknown odd records are kept in [`ExtraTlvs`], unknown
//! even records fail the whole stream.

use super::codec::{Reader, Writer};
use super::WireError;

/// One record borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlvRecord<'a> {
    pub typ: u64,
    pub value: &'a [u8],
}

/// Iterator over the records of a TLV stream. Yields `Err` once (on the
/// first structural problem) and then stops.
#[derive(Clone, Debug)]
pub struct TlvReader<'a> {
    r: Reader<'a>,
    last: Option<u64>,
    failed: bool,
}

impl<'a> TlvReader<'a> {
    /// A reader over a whole stream (the stream extends to the end of `bytes`).
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            r: Reader::new(bytes),
            last: None,
            failed: false,
        }
    }

    fn next_record(&mut self) -> Result<TlvRecord<'a>, WireError> {
        let typ = self.r.bigsize()?;
        if let Some(last) = self.last {
            if typ == last {
                return Err(WireError::TlvDuplicate(typ));
            }
            if typ < last {
                return Err(WireError::TlvNotAscending(typ));
            }
        }
        let len = self.r.bigsize()?;
        // Check against what is actually left before any conversion.
        if len > self.r.remaining() as u64 {
            return Err(WireError::ShortRead);
        }
        let value = self.r.bytes(len as usize)?;
        self.last = Some(typ);
        Ok(TlvRecord { typ, value })
    }
}

impl<'a> Iterator for TlvReader<'a> {
    type Item = Result<TlvRecord<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let item = self.next_record();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Unknown odd TLV records kept from a decoded stream, so that re-encoding
/// reproduces the input. Types are strictly ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraTlvs(pub Vec<(u64, Vec<u8>)>);

impl ExtraTlvs {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Decodes a TLV stream. `known(type, value)` returns `Ok(true)` when it
/// understood (and stored) the record, `Ok(false)` for a type it does not
/// know, or an error for a known type with a bad value. Unknown even types
/// fail with [`WireError::UnknownEvenTlv`]; unknown odd ones are returned.
pub fn decode_stream<'a>(
    bytes: &'a [u8],
    mut known: impl FnMut(u64, &'a [u8]) -> Result<bool, WireError>,
) -> Result<ExtraTlvs, WireError> {
    let mut extra = Vec::new();
    for rec in TlvReader::new(bytes) {
        let rec = rec?;
        if !known(rec.typ, rec.value)? {
            if rec.typ % 2 == 0 {
                return Err(WireError::UnknownEvenTlv(rec.typ));
            }
            extra.push((rec.typ, rec.value.to_vec()));
        }
    }
    Ok(ExtraTlvs(extra))
}

/// Collects the records of a stream being encoded, then writes them sorted.
#[derive(Debug, Default)]
pub struct TlvBuilder {
    records: Vec<(u64, Vec<u8>)>,
}

impl TlvBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a record.
    pub fn add(&mut self, typ: u64, value: Vec<u8>) -> &mut Self {
        self.records.push((typ, value));
        self
    }
    /// Adds a record when `value` is `Some`.
    pub fn add_opt(&mut self, typ: u64, value: Option<Vec<u8>>) -> &mut Self {
        if let Some(v) = value {
            self.records.push((typ, v));
        }
        self
    }
    /// Writes the records (plus `extra`) in ascending order. A type present
    /// twice makes the writer fail with [`WireError::TlvDuplicate`].
    pub fn write(mut self, extra: &ExtraTlvs, w: &mut Writer) {
        self.records.extend(extra.0.iter().cloned());
        self.records.sort_by_key(|r| r.0);
        let mut last = None;
        for (typ, value) in &self.records {
            if last == Some(*typ) {
                w.fail(WireError::TlvDuplicate(*typ));
            }
            last = Some(*typ);
            w.tlv(*typ, value);
        }
    }
}
