//! BOLT 9 feature bits.
//!
//! [`Features`] is a set of bits as carried in `init`, `node_announcement`,
//! `channel_announcement`, invoices and `channel_type`. Bits pair up: the
//! even bit means *required* ("it's OK to be odd": a peer that does not
//! understand an even bit must disconnect), the odd bit *optional*.
//! [`Feature`] names the pairs lnwasm knows; [`lnwasm_init_features`] is
//! what lnwasm advertises and [`check_peer_init`] decides whether a peer's
//! `init` is acceptable.

use core::fmt;

use crate::error::ErrorCode;

/// Where a feature vector appears (the BOLT 9 "Context" column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeatureContext {
    /// `I`: the `init` message.
    Init,
    /// `N`: `node_announcement`.
    Node,
    /// `C`: `channel_announcement`.
    Channel,
    /// `9`: BOLT 11 invoices.
    Invoice,
    /// `B`: `allowed_features` of a blinded path.
    BlindedPath,
    /// `T`: `channel_type` when opening channels.
    ChannelType,
}

impl FeatureContext {
    fn letter(self) -> char {
        match self {
            Self::Init => 'I',
            Self::Node => 'N',
            Self::Channel => 'C',
            Self::Invoice => '9',
            Self::BlindedPath => 'B',
            Self::ChannelType => 'T',
        }
    }
}

macro_rules! features {
    ($( $(#[$doc:meta])* $variant:ident = $even:literal, $name:literal, $ctx:literal, [$($dep:ident),*]; )*) => {
        /// A feature pair known to lnwasm. Its even bit is
        /// [`Feature::required_bit`], its odd bit [`Feature::optional_bit`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Feature {
            $( $(#[$doc])* $variant, )*
        }

        impl Feature {
            /// Every known feature, by ascending bit.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant),*];

            /// The even (required) bit.
            pub const fn required_bit(self) -> usize {
                match self { $(Feature::$variant => $even,)* }
            }
            /// The name used in BOLT 9, e.g. `"option_static_remotekey"`.
            pub const fn name(self) -> &'static str {
                match self { $(Feature::$variant => $name,)* }
            }
            /// Context letters (`I`, `N`, `C`, `9`, `B`, `T`) where the feature may appear.
            const fn context_letters(self) -> &'static str {
                match self { $(Feature::$variant => $ctx,)* }
            }
            /// Features that must be set whenever this one is.
            pub const fn dependencies(self) -> &'static [Feature] {
                match self { $(Feature::$variant => &[$(Feature::$dep),*],)* }
            }
        }
    };
}

features! {
    /// Proof of a peer's last commitment on reconnection (assumed by the spec).
    DataLossProtect = 0, "option_data_loss_protect", "IN", [];
    /// Commit to a shutdown script when opening.
    UpfrontShutdownScript = 4, "option_upfront_shutdown_script", "IN", [];
    /// Gossip query messages.
    GossipQueries = 6, "gossip_queries", "IN", [];
    /// TLV onion payloads (assumed by the spec).
    VarOnionOptin = 8, "var_onion_optin", "IN9", [];
    /// Extended gossip queries (timestamps, checksums, flags).
    GossipQueriesEx = 10, "gossip_queries_ex", "IN", [];
    /// `to_remote` pays to a static key (assumed by the spec).
    StaticRemoteKey = 12, "option_static_remotekey", "IN", [];
    /// Payment secrets in the final onion hop (assumed by the spec).
    PaymentSecret = 14, "payment_secret", "IN9", [];
    /// Basic multi-part payments.
    BasicMpp = 16, "basic_mpp", "IN9", [PaymentSecret];
    /// Channels above 2^24 sat.
    LargeChannels = 18, "option_support_large_channel", "IN", [];
    /// Legacy anchor outputs (non-zero-fee HTLC transactions).
    AnchorOutputs = 20, "option_anchor_outputs", "IN", [];
    /// Anchors with zero-fee HTLC transactions (`option_anchors`).
    AnchorsZeroFeeHtlcTx = 22, "option_anchors", "INT", [];
    /// Route blinding.
    RouteBlinding = 24, "option_route_blinding", "IN9", [];
    /// Future segwit versions in `shutdown`.
    ShutdownAnySegwit = 26, "option_shutdown_anysegwit", "IN", [];
    /// Dual-funded channel establishment (v2).
    DualFund = 28, "option_dual_fund", "IN", [];
    /// Quiescence (`stfu`).
    Quiesce = 34, "option_quiesce", "IN", [];
    /// Attribution data on HTLC failures and fulfills.
    AttributionData = 36, "option_attribution_data", "IN9", [];
    /// Onion messages.
    OnionMessages = 38, "option_onion_messages", "IN", [];
    /// Storing peers' backups.
    ProvideStorage = 42, "option_provide_storage", "IN", [];
    /// Explicit `channel_type` negotiation (assumed by the spec).
    ChannelType = 44, "option_channel_type", "IN", [];
    /// Channel aliases (`short_channel_id` in `channel_ready`).
    ScidAlias = 46, "option_scid_alias", "INT", [];
    /// Payment metadata in invoices.
    PaymentMetadata = 48, "option_payment_metadata", "9", [];
    /// Zero-confirmation channels.
    ZeroConf = 50, "option_zeroconf", "INT", [ScidAlias];
    /// Simplified closing negotiation.
    SimpleClose = 60, "option_simple_close", "IN", [ShutdownAnySegwit];
    /// Splicing.
    Splice = 62, "option_splice", "IN", [];
}

impl Feature {
    /// The odd (optional) bit.
    pub const fn optional_bit(self) -> usize {
        self.required_bit() + 1
    }
    /// The known feature owning `bit` (either parity).
    pub fn from_bit(bit: usize) -> Option<Feature> {
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.required_bit() == bit & !1)
    }
    /// Whether the feature may appear in `ctx`.
    pub fn allowed_in(self, ctx: FeatureContext) -> bool {
        self.context_letters().contains(ctx.letter())
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of feature bits. Stored little-endian by byte (byte 0 holds bits
/// 0..8); on the wire it is big-endian ([`Features::from_wire_bytes`],
/// [`Features::to_wire_bytes`]).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Features {
    le: Vec<u8>,
}

impl Features {
    /// No bits set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// From the wire form (big-endian, bit 0 is the least significant bit
    /// of the last byte). Leading zero bytes are accepted and dropped.
    pub fn from_wire_bytes(bytes: &[u8]) -> Self {
        let mut le: Vec<u8> = bytes.iter().rev().copied().collect();
        trim(&mut le);
        Self { le }
    }

    /// The minimal wire form (no leading zero bytes; empty if no bit is set).
    pub fn to_wire_bytes(&self) -> Vec<u8> {
        self.le.iter().rev().copied().collect()
    }

    /// A set with exactly `bits`.
    pub fn from_bits(bits: &[usize]) -> Self {
        let mut f = Self::empty();
        for &b in bits {
            f.set_bit(b);
        }
        f
    }

    pub fn is_empty(&self) -> bool {
        self.le.is_empty()
    }

    pub fn has_bit(&self, bit: usize) -> bool {
        self.le
            .get(bit / 8)
            .is_some_and(|b| b & (1 << (bit % 8)) != 0)
    }

    pub fn set_bit(&mut self, bit: usize) {
        if self.le.len() <= bit / 8 {
            self.le.resize(bit / 8 + 1, 0);
        }
        self.le[bit / 8] |= 1 << (bit % 8);
    }

    pub fn clear_bit(&mut self, bit: usize) {
        if let Some(b) = self.le.get_mut(bit / 8) {
            *b &= !(1 << (bit % 8));
        }
        trim(&mut self.le);
    }

    /// Every set bit, ascending.
    pub fn bits(&self) -> impl Iterator<Item = usize> + '_ {
        self.le.iter().enumerate().flat_map(|(i, &b)| {
            (0..8)
                .filter(move |j| b & (1 << j) != 0)
                .map(move |j| i * 8 + j)
        })
    }

    /// Sets the even bit of `f` (and clears the odd one).
    pub fn set_required(&mut self, f: Feature) -> &mut Self {
        self.clear_bit(f.optional_bit());
        self.set_bit(f.required_bit());
        self
    }

    /// Sets the odd bit of `f` (and clears the even one).
    pub fn set_optional(&mut self, f: Feature) -> &mut Self {
        self.clear_bit(f.required_bit());
        self.set_bit(f.optional_bit());
        self
    }

    /// Clears both bits of `f`.
    pub fn clear(&mut self, f: Feature) -> &mut Self {
        self.clear_bit(f.required_bit());
        self.clear_bit(f.optional_bit());
        self
    }

    /// Either bit of `f` is set.
    pub fn supports(&self, f: Feature) -> bool {
        self.has_bit(f.required_bit()) || self.has_bit(f.optional_bit())
    }

    /// The even bit of `f` is set (if both are set, the feature is required).
    pub fn requires(&self, f: Feature) -> bool {
        self.has_bit(f.required_bit())
    }

    /// Both sets support `f`: it can be used on this connection.
    pub fn mutually_supports(&self, other: &Features, f: Feature) -> bool {
        self.supports(f) && other.supports(f)
    }

    /// Bits set in either.
    pub fn union(&self, other: &Features) -> Features {
        let n = self.le.len().max(other.le.len());
        let le = (0..n)
            .map(|i| self.le.get(i).copied().unwrap_or(0) | other.le.get(i).copied().unwrap_or(0))
            .collect();
        Features { le }
    }

    /// Bits set in both.
    pub fn intersection(&self, other: &Features) -> Features {
        let mut le: Vec<u8> = self.le.iter().zip(&other.le).map(|(a, b)| a & b).collect();
        trim(&mut le);
        Features { le }
    }

    /// Even bits set here that are not known to lnwasm.
    pub fn unknown_required_bits(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits()
            .filter(|b| b % 2 == 0 && Feature::from_bit(*b).is_none())
    }

    /// Checks that every known feature present may appear in `ctx` and
    /// that all its dependencies are set too.
    pub fn validate(&self, ctx: FeatureContext) -> Result<(), FeatureError> {
        for f in Feature::ALL {
            if !self.supports(*f) {
                continue;
            }
            if !f.allowed_in(ctx) {
                return Err(FeatureError::NotInContext {
                    feature: *f,
                    context: ctx,
                });
            }
            if let Some(dep) = f.dependencies().iter().find(|d| !self.supports(**d)) {
                return Err(FeatureError::MissingDependency {
                    feature: *f,
                    needs: *dep,
                });
            }
        }
        Ok(())
    }
}

fn trim(le: &mut Vec<u8>) {
    while le.last() == Some(&0) {
        le.pop();
    }
}

impl core::ops::BitOr for &Features {
    type Output = Features;
    fn bitor(self, rhs: &Features) -> Features {
        self.union(rhs)
    }
}

impl core::ops::BitAnd for &Features {
    type Output = Features;
    fn bitand(self, rhs: &Features) -> Features {
        self.intersection(rhs)
    }
}

/// Lists the bits by name, e.g. `var_onion_optin(required), basic_mpp(optional), bit 101`.
impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for bit in self.bits() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            match Feature::from_bit(bit) {
                Some(feat) if bit % 2 == 0 => write!(f, "{}(required)", feat.name())?,
                Some(feat) => write!(f, "{}(optional)", feat.name())?,
                None => write!(f, "bit {bit}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Features[{self}]")
    }
}

/// What lnwasm advertises in `init` (and `node_announcement`):
/// required: `option_data_loss_protect`, `var_onion_optin`,
/// `option_static_remotekey`, `payment_secret`, `option_channel_type`;
/// optional: `basic_mpp`, `option_shutdown_anysegwit`, `option_scid_alias`,
/// `option_zeroconf`. `option_anchors` is added only by a configuration
/// that negotiates anchors (`ChannelConfig::init_features`).
pub fn lnwasm_init_features() -> Features {
    let mut f = Features::empty();
    for r in [
        Feature::DataLossProtect,
        Feature::VarOnionOptin,
        Feature::StaticRemoteKey,
        Feature::PaymentSecret,
        Feature::ChannelType,
    ] {
        f.set_required(r);
    }
    for o in [
        Feature::BasicMpp,
        Feature::ShutdownAnySegwit,
        Feature::ScidAlias,
        Feature::ZeroConf,
    ] {
        f.set_optional(o);
    }
    f
}

/// Decides whether a connection may continue after receiving the peer's
/// `init` (BOLT 1): `local` is what we sent, `remote` the union of the
/// peer's `globalfeatures` and `features`.
///
/// Refuses when the peer requires (even bit) something we do not offer at
/// all, when we require a feature the peer sets neither bit of, or when the
/// peer's vector misses a dependency of a feature it sets.
pub fn check_peer_init(local: &Features, remote: &Features) -> Result<(), FeatureError> {
    if let Some(bit) = remote
        .bits()
        .find(|b| b % 2 == 0 && !local.has_bit(*b) && !local.has_bit(b + 1))
    {
        return Err(FeatureError::UnsupportedRequired {
            bit,
            feature: Feature::from_bit(bit),
        });
    }
    if let Some(f) = Feature::ALL
        .iter()
        .find(|f| local.requires(**f) && !remote.supports(**f))
    {
        return Err(FeatureError::MissingRequired(*f));
    }
    for f in Feature::ALL {
        if remote.supports(*f) {
            if let Some(dep) = f.dependencies().iter().find(|d| !remote.supports(**d)) {
                return Err(FeatureError::MissingDependency {
                    feature: *f,
                    needs: *dep,
                });
            }
        }
    }
    Ok(())
}

/// Why a feature vector is unacceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureError {
    /// The peer requires a feature (even `bit`) that we do not support;
    /// `feature` names it when lnwasm knows it.
    UnsupportedRequired {
        bit: usize,
        feature: Option<Feature>,
    },
    /// We require `0` and the peer does not support it.
    MissingRequired(Feature),
    /// `feature` is set without its dependency `needs`.
    MissingDependency { feature: Feature, needs: Feature },
    /// `feature` is not allowed in `context`.
    NotInContext {
        feature: Feature,
        context: FeatureContext,
    },
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedRequired {
                bit,
                feature: Some(feat),
            } => {
                write!(
                    f,
                    "peer requires {} (bit {bit}), which lnwasm does not support",
                    feat.name()
                )
            }
            Self::UnsupportedRequired { bit, feature: None } => {
                write!(f, "peer requires unknown feature bit {bit}")
            }
            Self::MissingRequired(feat) => write!(
                f,
                "peer does not support {} (bits {}/{}), which lnwasm requires",
                feat.name(),
                feat.required_bit(),
                feat.optional_bit()
            ),
            Self::MissingDependency { feature, needs } => {
                write!(
                    f,
                    "{} is set without its dependency {}",
                    feature.name(),
                    needs.name()
                )
            }
            Self::NotInContext { feature, context } => {
                write!(
                    f,
                    "{} may not appear in {:?} features",
                    feature.name(),
                    context
                )
            }
        }
    }
}

impl ErrorCode for FeatureError {
    fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedRequired { .. } => "PEER_REQUIRES_UNSUPPORTED_FEATURE",
            Self::MissingRequired(_) => "PEER_LACKS_REQUIRED_FEATURE",
            Self::MissingDependency { .. } => "FEATURE_MISSING_DEPENDENCY",
            Self::NotInContext { .. } => "FEATURE_NOT_IN_CONTEXT",
        }
    }
}

impl std::error::Error for FeatureError {}
