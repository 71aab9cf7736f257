//! Channel errors, each with a stable code.

use core::fmt;

use crate::error::ErrorCode;
use crate::tx::TxError;

/// Why a command was refused or why the peer's message violates BOLT 2.
///
/// Local refusals (a user command that cannot be carried out) are returned
/// as `Err` from [`Channel::handle`](super::Channel::handle) and leave the
/// channel unchanged. Peer violations are answered inside the returned
/// actions (an `error` or `warning` message, possibly a force close) and
/// reported with [`Event::PeerViolation`](super::Event::PeerViolation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelError {
    // ----- opening -----
    /// `open_channel` for a chain we do not serve.
    WrongChain,
    /// `push_msat` larger than the funding amount.
    PushExceedsFunding,
    /// Funding amount below our minimum or above our maximum.
    FundingOutOfRange,
    /// Funding of 2^24 sat or more without `option_support_large_channel`.
    LargeChannelNotNegotiated,
    /// `dust_limit_satoshis` below 354 or above our maximum.
    DustLimitOutOfRange,
    /// `dust_limit_satoshis` above the sender's own `channel_reserve_satoshis`.
    DustLimitAboveReserve,
    /// A channel reserve below the other side's dust limit.
    ReserveBelowDustLimit,
    /// A channel reserve above our maximum share of the capacity.
    ReserveTooLarge,
    /// `to_self_delay` above our maximum.
    ToSelfDelayTooLarge,
    /// `max_accepted_htlcs` of 0 or above 483.
    MaxAcceptedHtlcsOutOfRange,
    /// `max_htlc_value_in_flight_msat` below our minimum.
    MaxInFlightTooSmall,
    /// `htlc_minimum_msat` above our maximum.
    HtlcMinimumTooLarge,
    /// A feerate outside our sanity bounds.
    FeerateOutOfRange,
    /// The funder cannot pay the initial commitment fee, or neither balance
    /// is above the reserve.
    FunderCannotAffordFee,
    /// `minimum_depth` above our maximum, or 0 when we did not ask for zero-conf.
    MinimumDepthUnacceptable,
    /// The proposed `channel_type` is unknown or not acceptable.
    UnsupportedChannelType,
    /// `accept_channel` with a `channel_type` different from the one proposed.
    ChannelTypeMismatch,
    /// A message for another temporary channel id.
    WrongTemporaryChannelId,
    /// Too many unfunded inbound channels (per peer or in total).
    TooManyPendingChannels,
    /// An `upfront_shutdown_script` that is not a standard script.
    InvalidShutdownScript,

    // ----- normal operation -----
    /// A message that is not allowed in the current state.
    UnexpectedMessage(&'static str),
    /// A signature on a commitment or HTLC transaction does not verify.
    InvalidCommitmentSignature,
    /// `htlc_signatures` has the wrong number of entries.
    WrongHtlcSignatureCount,
    /// An HTLC signature does not verify.
    InvalidHtlcSignature,
    /// `update_add_htlc` with an unexpected id.
    UnexpectedHtlcId,
    /// An HTLC of 0 msat or below `htlc_minimum_msat`.
    HtlcBelowMinimum,
    /// `cltv_expiry` of 500000000 or more.
    InvalidCltvExpiry,
    /// More HTLCs than `max_accepted_htlcs`.
    TooManyHtlcs,
    /// In-flight value above `max_htlc_value_in_flight_msat`.
    InFlightLimitExceeded,
    /// The sender's balance would fall below its reserve or cannot pay the fee.
    InsufficientBalance,
    /// Total dust exposure above our limit.
    DustExposureExceeded,
    /// A fulfill or fail for an HTLC that is not committed on both sides.
    UnknownHtlc,
    /// A second fulfill or fail for the same HTLC.
    HtlcAlreadySettled,
    /// A preimage that does not hash to the HTLC's payment hash.
    InvalidPreimage,
    /// `update_fail_malformed_htlc` without the BADONION bit.
    MalformedWithoutBadonion,
    /// `update_fee` from the peer that is not the funder.
    UpdateFeeFromFundee,
    /// `commitment_signed` with nothing to commit.
    NothingToCommit,
    /// `revoke_and_ack` while no commitment of ours awaits revocation.
    UnexpectedRevocation,
    /// A revocation secret that does not match the revoked commitment point
    /// or the secrets received before.
    InvalidRevocationSecret,
    /// An update or commitment while shutting down that is not allowed.
    UpdateAfterShutdown,

    // ----- reestablish -----
    /// The peer's `channel_reestablish` shows it is behind or lies.
    ReestablishMismatch,
    /// The peer proved that we lost state: we must not broadcast.
    WeAreBehind,

    // ----- closing -----
    /// A `shutdown` script that is not allowed or differs from the upfront one.
    ShutdownScriptMismatch,
    /// A `closing_signed` fee outside the acceptable range.
    ClosingFeeOutOfRange,
    /// The peer's closing `fee_range` and ours do not overlap.
    ClosingFeeRangesDisjoint,

    // ----- local refusals -----
    /// The command is not possible in the current state.
    InvalidState(&'static str),
    /// The channel is not connected (reestablished) right now.
    NotConnected,
    /// A transaction could not be built or signed.
    Tx(TxError),
    /// Stored channel data could not be decoded.
    CorruptRecord(&'static str),
    /// The peer sent an `error`.
    PeerError(String),
}

impl From<TxError> for ChannelError {
    fn from(e: TxError) -> Self {
        ChannelError::Tx(e)
    }
}

impl From<crate::keys::KeyError> for ChannelError {
    fn from(e: crate::keys::KeyError) -> Self {
        ChannelError::Tx(TxError::Key(e))
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChannelError::*;
        let s = match self {
            WrongChain => "unknown chain",
            PushExceedsFunding => "push_msat exceeds the funding amount",
            FundingOutOfRange => "funding amount out of the acceptable range",
            LargeChannelNotNegotiated => "funding too large without option_support_large_channel",
            DustLimitOutOfRange => "dust_limit_satoshis out of range",
            DustLimitAboveReserve => "dust_limit_satoshis above channel_reserve_satoshis",
            ReserveBelowDustLimit => "channel_reserve_satoshis below dust_limit_satoshis",
            ReserveTooLarge => "channel_reserve_satoshis too large",
            ToSelfDelayTooLarge => "to_self_delay too large",
            MaxAcceptedHtlcsOutOfRange => "max_accepted_htlcs out of range",
            MaxInFlightTooSmall => "max_htlc_value_in_flight_msat too small",
            HtlcMinimumTooLarge => "htlc_minimum_msat too large",
            FeerateOutOfRange => "feerate_per_kw out of range",
            FunderCannotAffordFee => "funder cannot afford the commitment fee and reserve",
            MinimumDepthUnacceptable => "minimum_depth unacceptable",
            UnsupportedChannelType => "unsupported channel_type",
            ChannelTypeMismatch => "channel_type differs from the proposed one",
            WrongTemporaryChannelId => "wrong temporary_channel_id",
            TooManyPendingChannels => "too many pending channels",
            InvalidShutdownScript => "invalid shutdown script",
            UnexpectedMessage(m) => return write!(f, "unexpected {m}"),
            InvalidCommitmentSignature => "invalid commitment signature",
            WrongHtlcSignatureCount => "wrong number of htlc signatures",
            InvalidHtlcSignature => "invalid htlc signature",
            UnexpectedHtlcId => "unexpected htlc id",
            HtlcBelowMinimum => "htlc amount below minimum",
            InvalidCltvExpiry => "invalid cltv_expiry",
            TooManyHtlcs => "too many htlcs",
            InFlightLimitExceeded => "max_htlc_value_in_flight exceeded",
            InsufficientBalance => "insufficient balance (reserve or fee)",
            DustExposureExceeded => "dust exposure exceeded",
            UnknownHtlc => "unknown or not cross-signed htlc",
            HtlcAlreadySettled => "htlc already fulfilled or failed",
            InvalidPreimage => "preimage does not match payment hash",
            MalformedWithoutBadonion => "update_fail_malformed_htlc without BADONION",
            UpdateFeeFromFundee => "update_fee from the non-funder",
            NothingToCommit => "commitment_signed without changes",
            UnexpectedRevocation => "unexpected revoke_and_ack",
            InvalidRevocationSecret => "invalid per_commitment_secret",
            UpdateAfterShutdown => "update not allowed after shutdown",
            ReestablishMismatch => "channel_reestablish does not match our state",
            WeAreBehind => "peer proved we lost channel state",
            ShutdownScriptMismatch => "shutdown script not allowed",
            ClosingFeeOutOfRange => "closing fee out of range",
            ClosingFeeRangesDisjoint => "closing fee ranges do not overlap",
            InvalidState(s) => return write!(f, "invalid state: {s}"),
            NotConnected => "channel not connected",
            Tx(e) => return write!(f, "transaction: {e}"),
            CorruptRecord(s) => return write!(f, "corrupt channel record: {s}"),
            PeerError(s) => return write!(f, "peer error: {s}"),
        };
        f.write_str(s)
    }
}

impl std::error::Error for ChannelError {}

impl ErrorCode for ChannelError {
    fn code(&self) -> &'static str {
        use ChannelError::*;
        match self {
            WrongChain => "WRONG_CHAIN",
            PushExceedsFunding => "PUSH_EXCEEDS_FUNDING",
            FundingOutOfRange => "FUNDING_OUT_OF_RANGE",
            LargeChannelNotNegotiated => "LARGE_CHANNEL_NOT_NEGOTIATED",
            DustLimitOutOfRange => "DUST_LIMIT_OUT_OF_RANGE",
            DustLimitAboveReserve => "DUST_LIMIT_ABOVE_RESERVE",
            ReserveBelowDustLimit => "RESERVE_BELOW_DUST_LIMIT",
            ReserveTooLarge => "RESERVE_TOO_LARGE",
            ToSelfDelayTooLarge => "TO_SELF_DELAY_TOO_LARGE",
            MaxAcceptedHtlcsOutOfRange => "MAX_ACCEPTED_HTLCS_OUT_OF_RANGE",
            MaxInFlightTooSmall => "MAX_IN_FLIGHT_TOO_SMALL",
            HtlcMinimumTooLarge => "HTLC_MINIMUM_TOO_LARGE",
            FeerateOutOfRange => "FEERATE_OUT_OF_RANGE",
            FunderCannotAffordFee => "FUNDER_CANNOT_AFFORD_FEE",
            MinimumDepthUnacceptable => "MINIMUM_DEPTH_UNACCEPTABLE",
            UnsupportedChannelType => "UNSUPPORTED_CHANNEL_TYPE",
            ChannelTypeMismatch => "CHANNEL_TYPE_MISMATCH",
            WrongTemporaryChannelId => "WRONG_TEMPORARY_CHANNEL_ID",
            TooManyPendingChannels => "TOO_MANY_PENDING_CHANNELS",
            InvalidShutdownScript => "INVALID_SHUTDOWN_SCRIPT",
            UnexpectedMessage(_) => "UNEXPECTED_MESSAGE",
            InvalidCommitmentSignature => "INVALID_COMMITMENT_SIGNATURE",
            WrongHtlcSignatureCount => "WRONG_HTLC_SIGNATURE_COUNT",
            InvalidHtlcSignature => "INVALID_HTLC_SIGNATURE",
            UnexpectedHtlcId => "UNEXPECTED_HTLC_ID",
            HtlcBelowMinimum => "HTLC_BELOW_MINIMUM",
            InvalidCltvExpiry => "INVALID_CLTV_EXPIRY",
            TooManyHtlcs => "TOO_MANY_HTLCS",
            InFlightLimitExceeded => "IN_FLIGHT_LIMIT_EXCEEDED",
            InsufficientBalance => "INSUFFICIENT_BALANCE",
            DustExposureExceeded => "DUST_EXPOSURE_EXCEEDED",
            UnknownHtlc => "UNKNOWN_HTLC",
            HtlcAlreadySettled => "HTLC_ALREADY_SETTLED",
            InvalidPreimage => "INVALID_PREIMAGE",
            MalformedWithoutBadonion => "MALFORMED_WITHOUT_BADONION",
            UpdateFeeFromFundee => "UPDATE_FEE_FROM_FUNDEE",
            NothingToCommit => "NOTHING_TO_COMMIT",
            UnexpectedRevocation => "UNEXPECTED_REVOCATION",
            InvalidRevocationSecret => "INVALID_REVOCATION_SECRET",
            UpdateAfterShutdown => "UPDATE_AFTER_SHUTDOWN",
            ReestablishMismatch => "REESTABLISH_MISMATCH",
            WeAreBehind => "WE_ARE_BEHIND",
            ShutdownScriptMismatch => "SHUTDOWN_SCRIPT_MISMATCH",
            ClosingFeeOutOfRange => "CLOSING_FEE_OUT_OF_RANGE",
            ClosingFeeRangesDisjoint => "CLOSING_FEE_RANGES_DISJOINT",
            InvalidState(_) => "INVALID_CHANNEL_STATE",
            NotConnected => "NOT_CONNECTED",
            Tx(e) => e.code(),
            CorruptRecord(_) => "CORRUPT_CHANNEL_RECORD",
            PeerError(_) => "PEER_ERROR",
        }
    }
}
