//! The IO edge: carrying a [`PeerConnection`](crate::peer::PeerConnection)'s
//! bytes over a real byte stream.
//!
//! * [`PeerUri`]: `<pubkey>@<host>:<port>` and the proxy URL for it.
//! * native only, [`tcp`]: a blocking driver over any [`tcp::ByteStream`],
//!   implemented for `std::net::TcpStream` (used by native tests and tools).
//! * wasm only, `websocket`: the byte stream over a browser `WebSocket`
//!   (binary frames, open timeout, clean close); `crate::js` drives a
//!   connection over it.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use secp256k1::{PublicKey, SecretKey};

use crate::error::ErrorCode;
use crate::peer::DisconnectReason;
use crate::util::from_hex;

#[cfg(not(target_arch = "wasm32"))]
pub mod tcp;
#[cfg(target_arch = "wasm32")]
pub mod websocket;

/// Why a transport could not connect or carry the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The peer address is not `<pubkey>@<host>:<port>`.
    InvalidPeerUri(&'static str),
    /// The WebSocket URL was refused (e.g. not `ws:`/`wss:`).
    InvalidUrl(String),
    /// The JS environment has no global `WebSocket` (e.g. Node before 22).
    WebSocketUnavailable,
    /// The stream could not be opened (refused, unreachable, proxy refusal).
    ConnectFailed(String),
    /// The stream did not open in time.
    ConnectTimeout,
    /// Reading or writing the stream failed.
    Io(String),
    /// A wait for an event or answer ran out.
    Timeout,
    /// The peer connection closed (handshake failure, incompatible
    /// features, closed stream, ...).
    Disconnected(DisconnectReason),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPeerUri(why) => write!(f, "invalid peer address: {why}"),
            Self::InvalidUrl(why) => write!(f, "invalid WebSocket URL: {why}"),
            Self::WebSocketUnavailable => {
                f.write_str("this JavaScript environment has no WebSocket")
            }
            Self::ConnectFailed(why) => write!(f, "could not connect: {why}"),
            Self::ConnectTimeout => f.write_str("connection did not open in time"),
            Self::Io(why) => write!(f, "stream failed: {why}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Disconnected(r) => write!(f, "disconnected: {r}"),
        }
    }
}

impl ErrorCode for TransportError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidPeerUri(_) => "INVALID_PEER_URI",
            Self::InvalidUrl(_) => "INVALID_URL",
            Self::WebSocketUnavailable => "WEBSOCKET_UNAVAILABLE",
            Self::ConnectFailed(_) => "CONNECT_FAILED",
            Self::ConnectTimeout => "CONNECT_TIMEOUT",
            Self::Io(_) => "IO_ERROR",
            Self::Timeout => "TIMEOUT",
            Self::Disconnected(r) => r.code(),
        }
    }
}

impl std::error::Error for TransportError {}

impl From<DisconnectReason> for TransportError {
    fn from(r: DisconnectReason) -> Self {
        Self::Disconnected(r)
    }
}

/// The host part of a peer address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// A DNS name (letters, digits, hyphens and dots).
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A Lightning peer's address: `<pubkey>@<host>:<port>`, the form nodes
/// print and wallets paste (IPv6 hosts in brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUri {
    pub node_id: PublicKey,
    pub host: Host,
    pub port: u16,
}

impl PeerUri {
    /// Parses `<66 hex pubkey>@<host>:<port>`.
    pub fn parse(s: &str) -> Result<PeerUri, TransportError> {
        let s = s.trim();
        let (key, addr) = s.split_once('@').ok_or(TransportError::InvalidPeerUri(
            "expected <pubkey>@<host>:<port>",
        ))?;
        let node_id = from_hex(key)
            .filter(|b| b.len() == 33)
            .and_then(|b| PublicKey::from_slice(&b).ok())
            .ok_or(TransportError::InvalidPeerUri(
                "node id must be a 33-byte public key in hex",
            ))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or(TransportError::InvalidPeerUri("missing :port"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or(TransportError::InvalidPeerUri("port must be 1..65535"))?;
        let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Host::Ipv6(
                v6.parse()
                    .map_err(|_| TransportError::InvalidPeerUri("invalid IPv6 address"))?,
            )
        } else if let Ok(v4) = host.parse::<Ipv4Addr>() {
            Host::Ipv4(v4)
        } else {
            let ok = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                });
            if !ok {
                return Err(TransportError::InvalidPeerUri("invalid host name"));
            }
            Host::Name(host.to_ascii_lowercase())
        };
        Ok(PeerUri {
            node_id,
            host,
            port,
        })
    }

    /// `host:port` (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL of this peer behind an `lnwasm-proxy` at `proxy` (e.g.
    /// `wss://proxy.example.com`): `<proxy>/v1/<a_b_c_d>/<port>` for IPv4,
    /// `<proxy>/<host>:<port>` otherwise.
    pub fn proxy_url(&self, proxy: &str) -> String {
        let base = proxy.trim_end_matches('/');
        match &self.host {
            Host::Ipv4(a) => {
                let [a, b, c, d] = a.octets();
                format!("{base}/v1/{a}_{b}_{c}_{d}/{}", self.port)
            }
            _ => format!("{base}/{}", self.host_port()),
        }
    }
}

impl fmt::Display for PeerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.node_id, self.host_port())
    }
}

/// A fresh random secret key (Noise ephemeral keys, throwaway node keys).
pub fn random_secret_key() -> SecretKey {
    loop {
        let mut b = [0u8; 32];
        // The platform RNG failing is not recoverable.
        getrandom::getrandom(&mut b).expect("system randomness unavailable");
        if let Ok(k) = SecretKey::from_slice(&b) {
            return k;
        }
    }
}
