//! BOLT 7 extended gossip query vectors (`bolt07-extended-queries.json`):
//! every entry decodes to the values listed, and re-encodes to the same hex.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use lnwasm::types::ShortChannelId;
use lnwasm::util::{from_hex, to_hex};
use lnwasm::wire::{
    EncodedList, Message, QueryFlags, UpdateChecksums, UpdateTimestamps, QUERY_OPTION_WANT_CHECKSUMS,
    QUERY_OPTION_WANT_TIMESTAMPS,
};

const JSON: &str = include_str!("vectors/bolt07-extended-queries.json");

/// One vector entry: its text from `"hex"` up to the next entry.
fn entries() -> Vec<&'static str> {
    JSON.split("\"hex\":").skip(1).collect()
}

/// The string value of the first `"key": "value"` in `s`.
fn string_field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let at = s.find(&format!("\"{key}\""))?;
    let rest = &s[at + key.len() + 2..];
    let rest = &rest[rest.find('"')? + 1..];
    Some(&rest[..rest.find('"')?])
}

/// The numeric value of the first `"key": 123` in `s`.
fn num_field(s: &str, key: &str) -> Option<u64> {
    let at = s.find(&format!("\"{key}\""))?;
    let rest = s[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Every numeric value of `"key": N` in `s`, in order.
fn all_nums(s: &str, key: &str) -> Vec<u64> {
    let pat = format!("\"{key}\"");
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find(&pat) {
        rest = &rest[at + pat.len()..];
        out.push(num_field(&format!("{pat}{rest}"), key).unwrap());
    }
    out
}

/// The quoted strings of the first `"key": [ ... ]` array in `s`.
fn string_array<'a>(s: &'a str, key: &str) -> Vec<&'a str> {
    let at = s.find(&format!("\"{key}\"")).unwrap();
    let rest = &s[at..];
    let open = rest.find('[').unwrap();
    let close = rest.find(']').unwrap();
    rest[open + 1..close].split(',').map(|x| x.trim().trim_matches('"')).filter(|x| !x.is_empty()).collect()
}

/// The section of an entry for a given field object, e.g. `"timestamps": { ... }`.
fn section<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let at = s.find(&format!("\"{key}\""))?;
    let rest = &s[at..];
    // Up to the matching closing brace of the object that starts after the key.
    let open = rest.find('{')?;
    let mut depth = 0;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[..open + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

fn scids(list: &[&str]) -> Vec<ShortChannelId> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn extended_query_vectors() {
    let entries = entries();
    assert_eq!(entries.len(), 10);
    let mut zlib_seen = 0;
    for e in entries {
        let hex = e.trim().strip_prefix('"').unwrap();
        let hex = &hex[..hex.find('"').unwrap()];
        let bytes = from_hex(hex).unwrap();
        let msg = Message::decode(&bytes).unwrap_or_else(|err| panic!("{hex}: {err}"));
        assert_eq!(to_hex(&msg.encode().unwrap()), hex, "re-encoding");
        let chain = string_field(e, "chainHash").unwrap();
        let ty = string_field(e, "type").unwrap();
        let scid_section = section(e, "shortChannelIds");
        let check_scids = |list: &EncodedList<ShortChannelId>, zlib_seen: &mut i32| {
            let sec = scid_section.unwrap();
            match string_field(sec, "encoding").unwrap() {
                "UNCOMPRESSED" => assert_eq!(list.items().unwrap(), scids(&string_array(sec, "array")).as_slice()),
                "COMPRESSED_ZLIB" => {
                    assert!(matches!(list, EncodedList::Zlib(_)));
                    *zlib_seen += 1;
                }
                other => panic!("{other}"),
            }
        };
        match (ty, &msg) {
            ("QueryChannelRange", Message::QueryChannelRange(q)) => {
                assert_eq!(to_hex(q.chain_hash.as_ref()), chain);
                assert_eq!(u64::from(q.first_blocknum), num_field(e, "firstBlockNum").unwrap());
                assert_eq!(u64::from(q.number_of_blocks), num_field(e, "numberOfBlocks").unwrap());
                let records = string_array(e, "records");
                match records.as_slice() {
                    [] => assert_eq!(q.query_option, None),
                    [r] => {
                        let mut want = 0;
                        if r.contains("WANT_TIMESTAMPS") {
                            want |= QUERY_OPTION_WANT_TIMESTAMPS;
                        }
                        if r.contains("WANT_CHECKSUMS") {
                            want |= QUERY_OPTION_WANT_CHECKSUMS;
                        }
                        assert_eq!(q.query_option, Some(want));
                    }
                    _ => panic!(),
                }
            }
            ("ReplyChannelRange", Message::ReplyChannelRange(r)) => {
                assert_eq!(to_hex(r.chain_hash.as_ref()), chain);
                assert_eq!(u64::from(r.first_blocknum), num_field(e, "firstBlockNum").unwrap());
                assert_eq!(u64::from(r.number_of_blocks), num_field(e, "numberOfBlocks").unwrap());
                assert_eq!(u64::from(r.sync_complete), num_field(e, "complete").unwrap());
                check_scids(&r.short_channel_ids, &mut zlib_seen);
                match section(e, "timestamps") {
                    None => assert_eq!(r.timestamps, None),
                    Some(sec) => {
                        let t1 = all_nums(sec, "timestamp1");
                        let t2 = all_nums(sec, "timestamp2");
                        let want: Vec<UpdateTimestamps> =
                            t1.iter().zip(&t2).map(|(a, b)| UpdateTimestamps { node_1: *a as u32, node_2: *b as u32 }).collect();
                        let got = r.timestamps.as_ref().unwrap();
                        match string_field(sec, "encoding").unwrap() {
                            "UNCOMPRESSED" => assert_eq!(got.items().unwrap(), want.as_slice()),
                            _ => assert!(matches!(got, EncodedList::Zlib(_))),
                        }
                    }
                }
                match section(e, "checksums") {
                    None => assert_eq!(r.checksums, None),
                    Some(sec) => {
                        let c1 = all_nums(sec, "checksum1");
                        let c2 = all_nums(sec, "checksum2");
                        let want: Vec<UpdateChecksums> =
                            c1.iter().zip(&c2).map(|(a, b)| UpdateChecksums { node_1: *a as u32, node_2: *b as u32 }).collect();
                        assert_eq!(r.checksums.as_deref(), Some(want.as_slice()));
                    }
                }
            }
            ("QueryShortChannelIds", Message::QueryShortChannelIds(q)) => {
                assert_eq!(to_hex(q.chain_hash.as_ref()), chain);
                check_scids(&q.short_channel_ids, &mut zlib_seen);
                let tlvs = section(e, "tlvStream").unwrap();
                if tlvs.contains("\"array\"") {
                    let flags = q.query_flags.as_ref().unwrap();
                    match string_field(tlvs, "encoding").unwrap() {
                        "UNCOMPRESSED" => {
                            let want: Vec<QueryFlags> =
                                string_array(tlvs, "array").iter().map(|x| QueryFlags(x.parse().unwrap())).collect();
                            assert_eq!(flags.items().unwrap(), want.as_slice());
                        }
                        _ => assert!(matches!(flags, EncodedList::Zlib(_))),
                    }
                } else {
                    assert_eq!(q.query_flags, None);
                }
            }
            (t, m) => panic!("{t} decoded as {m:?}"),
        }
    }
    assert!(zlib_seen >= 4);
}
