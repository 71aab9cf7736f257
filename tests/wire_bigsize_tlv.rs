//! BOLT 1 Appendix A (BigSize), B (TLV) and D (signed integers) vectors,
//! parsed straight out of the spec markdown.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use lnwasm::error::ErrorCode;
use lnwasm::types::ShortChannelId;
use lnwasm::util::{from_hex, to_hex};
use lnwasm::wire::codec::{
    bigsize_len, bigsize_to_vec, decode_bigsize, decode_exact, decode_signed,
    encode_signed_minimal, Reader, Writer,
};
use lnwasm::wire::tlv::{decode_stream, ExtraTlvs, TlvBuilder, TlvReader};
use lnwasm::wire::WireError;

const BIGSIZE_TLV: &str = include_str!("vectors/bolt01-bigsize-tlv-vectors.md");
const SIGNED: &str = include_str!("vectors/bolt01-signed-integer-vectors.md");

/// A JSON object of the vector files, reduced to its string/number fields.
#[derive(Debug, Default)]
struct JsonObj {
    fields: Vec<(String, String)>,
}

impl JsonObj {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Extracts the flat objects of a JSON array of `{ "k": "v" | number }`.
fn flat_objects(json: &str) -> Vec<JsonObj> {
    let mut out = Vec::new();
    for chunk in json.split('{').skip(1) {
        let body = chunk.split('}').next().unwrap();
        let mut obj = JsonObj::default();
        for line in body.split(',') {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().trim_matches('"').to_string();
            let v = v.trim().trim_matches('"').to_string();
            obj.fields.push((k, v));
        }
        out.push(obj);
    }
    out
}

/// The body of the first ```json block after `heading`.
fn json_block_after<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(heading).expect("heading");
    let rest = &doc[start..];
    let open = rest.find("```json").expect("json block") + 7;
    let close = rest[open..].find("```").expect("block end");
    &rest[open..open + close]
}

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    from_hex(&compact).expect("hex")
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bigsize_decoding_vectors() {
    let objs = flat_objects(json_block_after(BIGSIZE_TLV, "### BigSize Decoding Tests"));
    assert_eq!(objs.len(), 18);
    for o in objs {
        let name = o.get("name").unwrap();
        let bytes = hex(o.get("bytes").unwrap());
        let got = decode_bigsize(&bytes);
        match o.get("exp_error") {
            None => {
                let want: u64 = o.get("value").unwrap().parse().unwrap();
                assert_eq!(got, Ok((want, bytes.len())), "{name}");
                assert_eq!(bigsize_len(want), bytes.len(), "{name}");
            }
            Some(e) => {
                let want = if e.contains("not canonical") {
                    WireError::NonCanonicalBigSize
                } else {
                    assert!(e.contains("EOF"), "{name}");
                    WireError::ShortRead
                };
                assert_eq!(got, Err(want), "{name}");
                assert_eq!(
                    got.unwrap_err().to_string().contains("canonical"),
                    e.contains("canonical")
                );
            }
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bigsize_encoding_vectors() {
    let objs = flat_objects(json_block_after(BIGSIZE_TLV, "### BigSize Encoding Tests"));
    assert_eq!(objs.len(), 8);
    for o in objs {
        let v: u64 = o.get("value").unwrap().parse().unwrap();
        assert_eq!(
            to_hex(&bigsize_to_vec(v)),
            o.get("bytes").unwrap(),
            "{}",
            o.get("name").unwrap()
        );
        let mut w = Writer::new();
        w.bigsize(v);
        assert_eq!(w.finish().unwrap(), bigsize_to_vec(v));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn signed_integer_vectors() {
    let objs = flat_objects(json_block_after(SIGNED, "Appendix D"));
    assert_eq!(objs.len(), 23);
    for o in objs {
        let v: i64 = o.get("value").unwrap().parse().unwrap();
        let bytes = o.get("bytes").unwrap();
        assert_eq!(to_hex(&encode_signed_minimal(v)), bytes);
        assert_eq!(decode_signed(&hex(bytes)), Ok(v));
    }
    assert_eq!(decode_signed(&[0, 0, 0]), Err(WireError::InvalidLength));
    assert_eq!(decode_signed(&[]), Err(WireError::InvalidLength));
}

// ---- TLV namespaces n1 and n2 of Appendix B, built on the public API ----

#[derive(Debug, Default, PartialEq)]
struct N1 {
    tlv1: Option<u64>,
    tlv2: Option<ShortChannelId>,
    tlv3: Option<(String, u64, u64)>,
    tlv4: Option<u16>,
    extra: ExtraTlvs,
}

fn decode_n1(bytes: &[u8]) -> Result<N1, WireError> {
    let mut n = N1::default();
    n.extra = decode_stream(bytes, |typ, v| {
        match typ {
            1 => n.tlv1 = Some(decode_exact(v, |r| r.tu64())?),
            2 => n.tlv2 = Some(decode_exact(v, |r| r.short_channel_id())?),
            3 => {
                n.tlv3 = Some(decode_exact(v, |r| {
                    Ok((to_hex(&r.point()?.serialize()), r.u64()?, r.u64()?))
                })?)
            }
            254 => n.tlv4 = Some(decode_exact(v, |r| r.u16())?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(n)
}

fn encode_n1(n: &N1) -> Vec<u8> {
    let mut w = Writer::new();
    let mut b = TlvBuilder::new();
    b.add_opt(
        1,
        n.tlv1.map(|v| {
            let mut w = Writer::new();
            w.truncated(v);
            w.finish().unwrap()
        }),
    );
    b.add_opt(2, n.tlv2.map(|s| s.0.to_be_bytes().to_vec()));
    b.add_opt(
        3,
        n.tlv3.as_ref().map(|(p, a, c)| {
            let mut v = hex(p);
            v.extend_from_slice(&a.to_be_bytes());
            v.extend_from_slice(&c.to_be_bytes());
            v
        }),
    );
    b.add_opt(254, n.tlv4.map(|c| c.to_be_bytes().to_vec()));
    b.write(&n.extra, &mut w);
    w.finish().unwrap()
}

fn decode_n2(bytes: &[u8]) -> Result<(Option<u64>, Option<u32>), WireError> {
    let (mut a, mut b) = (None, None);
    decode_stream(bytes, |typ, v| {
        match typ {
            0 => a = Some(decode_exact(v, |r| r.tu64())?),
            11 => b = Some(decode_exact(v, |r| r.tu32())?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((a, b))
}

#[derive(Debug)]
struct TlvCase {
    stream: Vec<u8>,
    valid: bool,
    n1: bool,
    n2: bool,
    /// The `Values:` line for n1 successes.
    values: Option<String>,
    line: String,
}

/// Walks Appendix B: each "The following ..." paragraph sets the namespaces
/// the next cases apply to; each "Valid/Invalid stream:" line is a case.
fn tlv_cases() -> Vec<TlvCase> {
    let start = BIGSIZE_TLV.find("## Appendix B").unwrap();
    let mut cases: Vec<TlvCase> = Vec::new();
    let (mut n1, mut n2) = (true, true);
    for line in BIGSIZE_TLV[start..].lines() {
        let t = line.trim();
        if (t.starts_with("The following") || t.starts_with("In addition")) && t.contains("stream")
        {
            let either = t.contains("any namespace") || t.contains("either namespace");
            n1 = either || t.contains("`n1`");
            n2 = either || t.contains("`n2`");
            assert!(n1 || n2, "unclassified paragraph: {t}");
        } else if let Some(rest) = t.strip_prefix("1. Invalid stream: ") {
            cases.push(TlvCase {
                stream: hex(rest),
                valid: false,
                n1,
                n2,
                values: None,
                line: t.into(),
            });
        } else if let Some(rest) = t.strip_prefix("1. Valid stream: ") {
            cases.push(TlvCase {
                stream: hex(rest),
                valid: true,
                n1,
                n2,
                values: None,
                line: t.into(),
            });
        } else if let Some(rest) = t.strip_prefix("2. Values: ") {
            cases.last_mut().unwrap().values = Some(rest.to_string());
        }
    }
    cases
}

fn value_of<'a>(values: &'a str, key: &str) -> Option<&'a str> {
    values.split_whitespace().find_map(|kv| {
        let kv = kv.trim_matches('`');
        let (k, v) = kv.split_once('=')?;
        (k.trim_matches('`') == key).then_some(v)
    })
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tlv_vectors() {
    let cases = tlv_cases();
    assert_eq!(
        cases.iter().filter(|c| !c.valid).count(),
        9 + 4 + 20 + 4 + 1,
        "{cases:#?}"
    );
    assert_eq!(cases.iter().filter(|c| c.valid).count(), 7 + 12);
    for c in &cases {
        if c.n1 {
            let got = decode_n1(&c.stream);
            assert_eq!(got.is_ok(), c.valid, "n1 {}: {got:?}", c.line);
            if let Ok(n) = got {
                if let Some(values) = &c.values {
                    if let Some(a) = value_of(values, "amount_msat") {
                        assert_eq!(n.tlv1, Some(a.parse().unwrap()), "{}", c.line);
                    }
                    if let Some(s) = value_of(values, "scid") {
                        assert_eq!(n.tlv2.unwrap().to_string(), s);
                    }
                    if let Some(p) = value_of(values, "node_id") {
                        let (pk, a1, a2) = n.tlv3.clone().unwrap();
                        assert_eq!(pk, p);
                        assert_eq!(a1.to_string(), value_of(values, "amount_msat_1").unwrap());
                        assert_eq!(a2.to_string(), value_of(values, "amount_msat_2").unwrap());
                    }
                    if let Some(d) = value_of(values, "cltv_delta") {
                        assert_eq!(n.tlv4, Some(d.parse().unwrap()));
                    }
                } else {
                    // "correctly decode, and be ignored": nothing known was set.
                    assert_eq!((n.tlv1, n.tlv2, n.tlv4), (None, None, None), "{}", c.line);
                    assert!(n.tlv3.is_none());
                }
                // Re-encoding reproduces the input exactly (unknown odd records kept).
                assert_eq!(encode_n1(&n), c.stream, "{}", c.line);
            }
        }
        if c.n2 {
            let got = decode_n2(&c.stream);
            assert_eq!(got.is_ok(), c.valid, "n2 {}: {got:?}", c.line);
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tlv_specific_errors() {
    let e = |s: &str| decode_n1(&hex(s)).unwrap_err();
    assert_eq!(
        e("0208000000000000022601012a"),
        WireError::TlvNotAscending(1)
    );
    assert_eq!(
        e("0208000000000000023102080000000000000451"),
        WireError::TlvDuplicate(2)
    );
    assert_eq!(e("1f000f012a"), WireError::TlvNotAscending(15));
    assert_eq!(e("1f001f012a"), WireError::TlvDuplicate(31));
    assert_eq!(e("1200"), WireError::UnknownEvenTlv(18));
    assert_eq!(e("0000"), WireError::UnknownEvenTlv(0));
    assert_eq!(e("fd000100"), WireError::NonCanonicalBigSize);
    assert_eq!(e("0ffd2602"), WireError::ShortRead);
    assert_eq!(e("010100"), WireError::NonMinimalInteger);
    assert_eq!(e("0109ffffffffffffffffff"), WireError::InvalidLength);
    assert_eq!(e("020701010101010101"), WireError::InvalidLength);
    assert_eq!(e("fd00fe00"), WireError::InvalidLength);
    assert_eq!(
        e("0331043da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb00000000000000010000000000000002"),
        WireError::InvalidPoint
    );
    assert_eq!(WireError::TlvDuplicate(2).code(), "TLV_DUPLICATE");
    assert_eq!(
        decode_n2(&hex("ffffffffffffffffff000000")).unwrap_err(),
        WireError::TlvNotAscending(0)
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tlv_stream_concatenation_rules() {
    let cases = tlv_cases();
    let valid_n1: Vec<&TlvCase> = cases
        .iter()
        .filter(|c| c.valid && c.n1 && !c.stream.is_empty())
        .collect();
    let invalid_n1: Vec<&TlvCase> = cases.iter().filter(|c| !c.valid && c.n1).collect();
    let first_type = |s: &[u8]| TlvReader::new(s).next().unwrap().unwrap().typ;
    // Any appending of an invalid stream to a valid stream fails.
    for v in &valid_n1 {
        for i in &invalid_n1 {
            let mut s = v.stream.clone();
            s.extend_from_slice(&i.stream);
            assert!(decode_n1(&s).is_err(), "{} + {}", v.line, i.line);
        }
    }
    // Appending a higher-numbered valid stream to a lower-numbered one succeeds.
    let mut pairs = 0;
    for a in &valid_n1 {
        for b in &valid_n1 {
            if first_type(&b.stream) > first_type(&a.stream) {
                let mut s = a.stream.clone();
                s.extend_from_slice(&b.stream);
                let n = decode_n1(&s).unwrap_or_else(|e| panic!("{} + {}: {e}", a.line, b.line));
                assert_eq!(encode_n1(&n), s);
                pairs += 1;
            }
        }
    }
    assert!(pairs > 50);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn reader_never_over_reads() {
    // A huge length prefix on a short input fails before reading anything.
    let mut r = Reader::new(&[0xff, 0xff, 1, 2, 3]);
    assert_eq!(r.u16_prefixed(), Err(WireError::ShortRead));
    let huge_tlv = hex("01ff0000000100000000");
    assert_eq!(
        TlvReader::new(&huge_tlv).next(),
        Some(Err(WireError::ShortRead))
    );
    let max_len = hex("01ffffffffffffffffff");
    assert_eq!(
        TlvReader::new(&max_len).next(),
        Some(Err(WireError::ShortRead))
    );
    // Truncations of every prefix of a valid stream never panic.
    let s = hex("010100020800000000000002260331023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb00000000000000010000000000000002fd00fe020226");
    for i in 0..s.len() {
        let _ = decode_n1(&s[..i]);
    }
    assert!(decode_n1(&s).is_err()); // 0x01 01 00 is non-minimal
    let mut w = Writer::new();
    w.u16_prefixed(&vec![0u8; 70_000]);
    assert_eq!(w.finish(), Err(WireError::FieldTooLong));
}
