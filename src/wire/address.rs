//! Network address descriptors (BOLT 7 `node_announcement` addresses and
//! the `remote_addr` TLV of `init`).

use core::fmt;

use super::codec::{Reader, Writer};
use super::WireError;

/// One address descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NetAddress {
    /// Type 1.
    Ipv4 { addr: [u8; 4], port: u16 },
    /// Type 2.
    Ipv6 { addr: [u8; 16], port: u16 },
    /// Type 3, deprecated Tor v2 (kept so announcements still parse).
    TorV2 { addr: [u8; 10], port: u16 },
    /// Type 4: Tor v3 service (ed25519 key, checksum, version).
    TorV3 { ed25519_pubkey: [u8; 32], checksum: u16, version: u8, port: u16 },
    /// Type 5: DNS hostname (ASCII, at most 255 bytes).
    Hostname { host: String, port: u16 },
    /// A descriptor of unknown type. Since its length is unknown, it and
    /// everything after it are kept raw (starting with the type byte).
    Unknown(Vec<u8>),
}

impl NetAddress {
    /// Reads one descriptor. An unknown type consumes the rest of `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<NetAddress, WireError> {
        let typ = r.u8()?;
        Ok(match typ {
            1 => NetAddress::Ipv4 { addr: r.array()?, port: r.u16()? },
            2 => NetAddress::Ipv6 { addr: r.array()?, port: r.u16()? },
            3 => NetAddress::TorV2 { addr: r.array()?, port: r.u16()? },
            4 => NetAddress::TorV3 {
                ed25519_pubkey: r.array()?,
                checksum: r.u16()?,
                version: r.u8()?,
                port: r.u16()?,
            },
            5 => {
                let len = r.u8()?;
                let host = r.bytes(usize::from(len))?;
                if !host.is_ascii() {
                    return Err(WireError::InvalidValue("hostname is not ASCII"));
                }
                let host = String::from_utf8_lossy(host).into_owned();
                NetAddress::Hostname { host, port: r.u16()? }
            }
            _ => {
                let mut raw = vec![typ];
                raw.extend_from_slice(r.rest());
                NetAddress::Unknown(raw)
            }
        })
    }

    /// Reads a whole list of descriptors (an `addresses` field).
    pub fn read_list(bytes: &[u8]) -> Result<Vec<NetAddress>, WireError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(NetAddress::read(&mut r)?);
        }
        Ok(out)
    }

    /// Appends the descriptor. A hostname over 255 bytes or non-ASCII makes
    /// the writer fail.
    pub fn write(&self, w: &mut Writer) {
        match self {
            NetAddress::Ipv4 { addr, port } => {
                w.u8(1);
                w.bytes(addr);
                w.u16(*port);
            }
            NetAddress::Ipv6 { addr, port } => {
                w.u8(2);
                w.bytes(addr);
                w.u16(*port);
            }
            NetAddress::TorV2 { addr, port } => {
                w.u8(3);
                w.bytes(addr);
                w.u16(*port);
            }
            NetAddress::TorV3 { ed25519_pubkey, checksum, version, port } => {
                w.u8(4);
                w.bytes(ed25519_pubkey);
                w.u16(*checksum);
                w.u8(*version);
                w.u16(*port);
            }
            NetAddress::Hostname { host, port } => {
                match u8::try_from(host.len()) {
                    Ok(n) if host.is_ascii() => {
                        w.u8(5);
                        w.u8(n);
                        w.bytes(host.as_bytes());
                    }
                    _ => w.fail(WireError::InvalidValue("hostname must be ASCII and at most 255 bytes")),
                }
                w.u16(*port);
            }
            NetAddress::Unknown(raw) => w.bytes(raw),
        }
    }

    /// Encodes a list of descriptors.
    pub fn write_list(list: &[NetAddress], w: &mut Writer) {
        for a in list {
            a.write(w);
        }
    }

    /// The port, if the descriptor is of a known type.
    pub fn port(&self) -> Option<u16> {
        match self {
            NetAddress::Ipv4 { port, .. }
            | NetAddress::Ipv6 { port, .. }
            | NetAddress::TorV2 { port, .. }
            | NetAddress::TorV3 { port, .. }
            | NetAddress::Hostname { port, .. } => Some(*port),
            NetAddress::Unknown(_) => None,
        }
    }
}

/// RFC 4648 base32, lowercase, no padding (onion addresses).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = acc << 8 | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[(acc >> bits & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[(acc << (5 - bits) & 31) as usize] as char);
    }
    out
}

/// `1.2.3.4:9735`, `[2001:db8::1]:9735`, `<56 chars>.onion:9735`, `host:port`.
impl fmt::Display for NetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetAddress::Ipv4 { addr, port } => {
                write!(f, "{}:{port}", std::net::Ipv4Addr::from(*addr))
            }
            NetAddress::Ipv6 { addr, port } => {
                write!(f, "[{}]:{port}", std::net::Ipv6Addr::from(*addr))
            }
            NetAddress::TorV2 { addr, port } => write!(f, "{}.onion:{port}", base32(addr)),
            NetAddress::TorV3 { ed25519_pubkey, checksum, version, port } => {
                let mut raw = [0u8; 35];
                raw[..32].copy_from_slice(ed25519_pubkey);
                raw[32..34].copy_from_slice(&checksum.to_be_bytes());
                raw[34] = *version;
                write!(f, "{}.onion:{port}", base32(&raw))
            }
            NetAddress::Hostname { host, port } => write!(f, "{host}:{port}"),
            NetAddress::Unknown(raw) => write!(f, "unknown address type {}", raw.first().copied().unwrap_or(0)),
        }
    }
}
