//! Parsing of `tests/vectors/bolt03-vectors.md`, shared by the BOLT 3 tests.
#![allow(dead_code)]

use lnwasm::util::from_hex;

/// The whole vector file.
pub const VECTORS: &str = include_str!("../vectors/bolt03-vectors.md");

/// The text between the heading that starts with `from` and the next
/// appendix heading.
pub fn section(from: &str) -> &'static str {
    let start = VECTORS
        .find(from)
        .unwrap_or_else(|| panic!("section {from} missing"));
    let rest = &VECTORS[start + from.len()..];
    let end = rest.find("\n# Appendix").unwrap_or(rest.len());
    &rest[..end]
}

/// `key: value` or `key = value` of a line, trimmed of indentation and of
/// a leading `# ` comment marker.
pub fn kv(line: &str) -> Option<(&str, &str)> {
    let l = line.trim();
    let l = l.strip_prefix("# ").unwrap_or(l);
    let l = l.strip_prefix("INTERNAL: ").unwrap_or(l);
    let (k, v) = if let Some(i) = l.find(": ") {
        let j = l.find(" = ");
        match j {
            Some(j) if j < i => (&l[..j], &l[j + 3..]),
            _ => (&l[..i], &l[i + 2..]),
        }
    } else if let Some(j) = l.find(" = ") {
        (&l[..j], &l[j + 3..])
    } else {
        return None;
    };
    Some((k.trim(), v.trim()))
}

/// The first value of `key` in `text`.
pub fn value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .filter_map(kv)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("key {key} missing"))
}

/// Hex with an optional `0x` prefix and an optional trailing `01`
/// compressed-key marker removed when `strip_01` and the length is 33 bytes.
pub fn hex(s: &str) -> Vec<u8> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    from_hex(s).unwrap_or_else(|| panic!("bad hex {s}"))
}

pub fn hex32(s: &str) -> [u8; 32] {
    let v = hex(s);
    let v = if v.len() == 33 && v[32] == 1 {
        &v[..32]
    } else {
        &v[..]
    };
    v.try_into().expect("32 bytes")
}

/// Decimal or `0x` hexadecimal integer.
pub fn int(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).expect("hex int"),
        None => s.parse().expect("int"),
    }
}

/// Splits `text` into blocks, each starting at a line whose key is `key`.
pub fn blocks<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let mut starts = vec![];
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if kv(line).map(|(k, _)| k == key).unwrap_or(false) && !line.trim_start().starts_with('#') {
            starts.push(pos);
        }
        pos += line.len();
    }
    let mut out = vec![];
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(text.len());
        out.push(&text[s..e]);
    }
    out
}
