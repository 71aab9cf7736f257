//! BOLT 1 setup and control messages: `init`, `error`, `warning`, `ping`, `pong`.

use bitcoin::constants::ChainHash;

use super::address::NetAddress;
use super::codec::{decode_exact, Reader, Writer};
use super::features::Features;
use super::ids::ChannelId;
use super::message::WireMessage;
use super::tlv::{decode_stream, ExtraTlvs, TlvBuilder};
use super::WireError;

/// `init` (type 16): the first message on every connection.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Init {
    /// Legacy `globalfeatures`; receivers OR it into `features`.
    pub global_features: Features,
    pub features: Features,
    /// TLV 1 `networks`: chains the sender is interested in.
    pub networks: Option<Vec<ChainHash>>,
    /// TLV 3 `remote_addr`: the address the sender sees us at.
    pub remote_addr: Option<NetAddress>,
    pub extra_tlvs: ExtraTlvs,
}

impl Init {
    /// An `init` carrying `features` (and no legacy global features).
    pub fn new(features: Features) -> Self {
        Init { features, ..Default::default() }
    }

    /// The feature set to negotiate with: `globalfeatures | features`.
    pub fn combined_features(&self) -> Features {
        self.global_features.union(&self.features)
    }

    /// Whether the peer shares a chain with us: `true` when it lists no
    /// networks, or lists `chain`.
    pub fn supports_chain(&self, chain: &ChainHash) -> bool {
        self.networks.as_ref().map_or(true, |n| n.contains(chain))
    }
}

impl WireMessage for Init {
    const TYPE: u16 = 16;
    fn write_body(&self, w: &mut Writer) {
        w.u16_prefixed(&self.global_features.to_wire_bytes());
        w.u16_prefixed(&self.features.to_wire_bytes());
        let mut t = TlvBuilder::new();
        t.add_opt(1, self.networks.as_ref().map(|n| n.iter().flat_map(|c| c.to_bytes()).collect()));
        t.add_opt(3, self.remote_addr.as_ref().map(|a| w.sub(|aw| a.write(aw))));
        t.write(&self.extra_tlvs, w);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let global_features = Features::from_wire_bytes(r.u16_prefixed()?);
        let features = Features::from_wire_bytes(r.u16_prefixed()?);
        let (mut networks, mut remote_addr) = (None, None);
        let extra_tlvs = decode_stream(r.rest(), |typ, v| {
            match typ {
                1 => {
                    if v.len() % 32 != 0 {
                        return Err(WireError::InvalidLength);
                    }
                    networks = Some(
                        v.chunks_exact(32)
                            .map(|c| ChainHash::from(<[u8; 32]>::try_from(c).unwrap_or([0; 32])))
                            .collect(),
                    );
                }
                3 => remote_addr = Some(decode_exact(v, NetAddress::read)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Init { global_features, features, networks, remote_addr, extra_tlvs })
    }
}

/// Text of an `error`/`warning`, made safe to display: invalid UTF-8
/// replaced, control characters (other than space) dropped.
fn sanitize(data: &[u8]) -> String {
    String::from_utf8_lossy(data).chars().filter(|c| !c.is_control()).collect()
}

macro_rules! error_like {
    ($(#[$doc:meta])* $name:ident, $ty:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            /// The channel concerned, or [`ChannelId::ALL`].
            pub channel_id: ChannelId,
            /// Free-form data, usually ASCII text.
            pub data: Vec<u8>,
        }

        impl $name {
            /// A message with a text explanation.
            pub fn new(channel_id: ChannelId, text: &str) -> Self {
                Self { channel_id, data: text.as_bytes().to_vec() }
            }
            /// `data` as printable text (lossy, control characters removed).
            pub fn text(&self) -> String {
                sanitize(&self.data)
            }
        }

        impl WireMessage for $name {
            const TYPE: u16 = $ty;
            fn write_body(&self, w: &mut Writer) {
                w.bytes(&self.channel_id.0);
                w.u16_prefixed(&self.data);
            }
            fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(Self { channel_id: ChannelId(r.array()?), data: r.u16_prefixed()?.to_vec() })
            }
        }
    };
}

error_like!(
    /// `error` (type 17): the sender is failing the channel (or all
    /// channels when `channel_id` is all zero).
    ErrorMessage,
    17
);
error_like!(
    /// `warning` (type 1): something went wrong but nothing is failed.
    WarningMessage,
    1
);

/// At or above this `num_pong_bytes`, a `ping` must not be answered.
pub const PONG_IGNORE_THRESHOLD: u16 = 65532;

/// `ping` (type 18).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// How many bytes of padding the `pong` must carry.
    pub num_pong_bytes: u16,
    /// Padding (should be zeros).
    pub ignored: Vec<u8>,
}

impl Ping {
    /// A ping asking for `num_pong_bytes` in the reply, with `padding` zero bytes.
    pub fn new(num_pong_bytes: u16, padding: u16) -> Self {
        Ping { num_pong_bytes, ignored: vec![0; usize::from(padding)] }
    }

    /// Whether the peer must answer this ping (BOLT 1: only when
    /// `num_pong_bytes < 65532`).
    pub fn expects_pong(&self) -> bool {
        self.num_pong_bytes < PONG_IGNORE_THRESHOLD
    }
}

/// The answer to a received ping: a pong with `num_pong_bytes` zero bytes,
/// or `None` when the ping asks for 65532 or more (it must be ignored).
pub fn respond_to_ping(ping: &Ping) -> Option<Pong> {
    ping.expects_pong().then(|| Pong { ignored: vec![0; usize::from(ping.num_pong_bytes)] })
}

impl WireMessage for Ping {
    const TYPE: u16 = 18;
    fn write_body(&self, w: &mut Writer) {
        w.u16(self.num_pong_bytes);
        w.u16_prefixed(&self.ignored);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Ping { num_pong_bytes: r.u16()?, ignored: r.u16_prefixed()?.to_vec() })
    }
}

/// `pong` (type 19).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pong {
    pub ignored: Vec<u8>,
}

impl Pong {
    /// Whether this pong is a valid answer to `ping` (its length matches
    /// what was asked, and the ping expected an answer at all).
    pub fn answers(&self, ping: &Ping) -> bool {
        ping.expects_pong() && self.ignored.len() == usize::from(ping.num_pong_bytes)
    }
}

impl WireMessage for Pong {
    const TYPE: u16 = 19;
    fn write_body(&self, w: &mut Writer) {
        w.u16_prefixed(&self.ignored);
    }
    fn read_body(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Pong { ignored: r.u16_prefixed()?.to_vec() })
    }
}
