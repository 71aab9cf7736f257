//! BOLT 3 "Key Derivation": basepoints, per-commitment points and the keys
//! that appear in a commitment transaction's scripts.
//!
//! Every public key role has its own newtype so that, for instance, a
//! delayed-payment basepoint cannot be passed where the revocation basepoint
//! is expected. The inner [`PublicKey`] stays public for interop.

use core::fmt;

use bitcoin::hashes::{sha256, Hash, HashEngine};
use secp256k1::{PublicKey, Scalar, SecretKey, SECP256K1};

use super::KeyError;

macro_rules! pubkey_role {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub PublicKey);

        impl $name {
            /// The 33-byte compressed encoding.
            pub fn serialize(&self) -> [u8; 33] {
                self.0.serialize()
            }
            /// Parses a 33-byte compressed point.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
                PublicKey::from_slice(bytes).map(Self).map_err(|_| KeyError::InvalidPublicKey)
            }
            /// The public key of `secret`.
            pub fn from_secret(secret: &SecretKey) -> Self {
                Self(PublicKey::from_secret_key(SECP256K1, secret))
            }
        }

        impl From<PublicKey> for $name {
            fn from(pk: PublicKey) -> Self {
                Self(pk)
            }
        }
    };
}

pubkey_role!(
    /// A party's `funding_pubkey` (2-of-2 funding output and its anchor output).
    FundingPubkey
);
pubkey_role!(
    /// A party's `revocation_basepoint`.
    RevocationBasepoint
);
pubkey_role!(
    /// A party's `payment_basepoint`. Under `option_static_remotekey` it is
    /// also the `remotepubkey` of the peer's commitment transactions.
    PaymentBasepoint
);
pubkey_role!(
    /// A party's `delayed_payment_basepoint`.
    DelayedPaymentBasepoint
);
pubkey_role!(
    /// A party's `htlc_basepoint`.
    HtlcBasepoint
);
pubkey_role!(
    /// `revocationpubkey` of one commitment transaction.
    RevocationPubkey
);
pubkey_role!(
    /// `local_delayedpubkey` of one commitment transaction.
    DelayedPubkey
);
pubkey_role!(
    /// `local_htlcpubkey` or `remote_htlcpubkey` of one commitment transaction.
    HtlcPubkey
);
pubkey_role!(
    /// `per_commitment_point` of one commitment transaction.
    PerCommitmentPoint
);

impl RevocationBasepoint {
    /// `revocationpubkey` for the peer's commitment with `point`.
    pub fn derive(&self, point: &PerCommitmentPoint) -> Result<RevocationPubkey, KeyError> {
        derive_revocation_pubkey(&self.0, &point.0).map(RevocationPubkey)
    }
}

impl DelayedPaymentBasepoint {
    /// `local_delayedpubkey` for the owner's commitment with `point`.
    pub fn derive(&self, point: &PerCommitmentPoint) -> Result<DelayedPubkey, KeyError> {
        derive_pubkey(&self.0, &point.0).map(DelayedPubkey)
    }
}

impl HtlcBasepoint {
    /// The HTLC key of this party in the commitment with `point`.
    pub fn derive(&self, point: &PerCommitmentPoint) -> Result<HtlcPubkey, KeyError> {
        derive_pubkey(&self.0, &point.0).map(HtlcPubkey)
    }
}

impl PaymentBasepoint {
    /// `localpubkey` for the commitment with `point` (not used in the
    /// scripts of `option_static_remotekey` and anchor channels, kept for
    /// completeness and the BOLT 3 vectors).
    pub fn derive(&self, point: &PerCommitmentPoint) -> Result<PublicKey, KeyError> {
        derive_pubkey(&self.0, &point.0)
    }
}

/// A per-commitment secret: revealed to the peer to revoke a commitment.
///
/// Any 32 bytes can be held (a peer may send anything); [`Self::point`] and
/// [`Self::secret_key`] fail if the bytes are not a valid scalar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PerCommitmentSecret(pub [u8; 32]);

impl fmt::Debug for PerCommitmentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerCommitmentSecret(..)")
    }
}

impl PerCommitmentSecret {
    /// The secret as a secp256k1 scalar.
    pub fn secret_key(&self) -> Result<SecretKey, KeyError> {
        SecretKey::from_slice(&self.0).map_err(|_| KeyError::InvalidSecretKey)
    }
    /// `per_commitment_point = per_commitment_secret * G`.
    pub fn point(&self) -> Result<PerCommitmentPoint, KeyError> {
        Ok(PerCommitmentPoint::from_secret(&self.secret_key()?))
    }

    /// Whether this secret is a valid scalar whose point is `point`, for a
    /// secret the peer revealed (`revoke_and_ack`), hence public.
    ///
    /// Computed as `-point + secret * G`, which is the point at infinity
    /// exactly when `secret * G == point`: one variable-time multiplication
    /// by precomputed multiples of G, less than half the work of the
    /// constant-time one [`Self::point`] does, which a secret that is no
    /// longer secret does not need. Never use it on a secret of our own.
    pub fn is_secret_of(&self, point: &PerCommitmentPoint) -> bool {
        let Ok(secret) = self.secret_key() else {
            return false;
        };
        // The secp256k1 API reports a sum at infinity as an error.
        point
            .0
            .negate(SECP256K1)
            .add_exp_tweak(SECP256K1, &Scalar::from(secret))
            .is_err()
    }
}

fn sha256_two(a: &PublicKey, b: &PublicKey) -> [u8; 32] {
    let mut e = sha256::Hash::engine();
    e.input(&a.serialize());
    e.input(&b.serialize());
    sha256::Hash::from_engine(e).to_byte_array()
}

fn scalar(bytes: [u8; 32]) -> Result<Scalar, KeyError> {
    Scalar::from_be_bytes(bytes).map_err(|_| KeyError::TweakOutOfRange)
}

/// `basepoint + SHA256(per_commitment_point || basepoint) * G`
/// (`localpubkey`, `local_htlcpubkey`, `remote_htlcpubkey`, `local_delayedpubkey`).
pub fn derive_pubkey(
    basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    let tweak = scalar(sha256_two(per_commitment_point, basepoint))?;
    basepoint
        .add_exp_tweak(SECP256K1, &tweak)
        .map_err(|_| KeyError::TweakOutOfRange)
}

/// `basepoint_secret + SHA256(per_commitment_point || basepoint)`: the secret
/// of [`derive_pubkey`].
pub fn derive_privkey(
    basepoint_secret: &SecretKey,
    per_commitment_point: &PublicKey,
) -> Result<SecretKey, KeyError> {
    let basepoint = PublicKey::from_secret_key(SECP256K1, basepoint_secret);
    derive_privkey_with_basepoint(basepoint_secret, &basepoint, per_commitment_point)
}

/// [`derive_privkey`] for a caller that holds `basepoint`, the public key of
/// `basepoint_secret` (one multiplication fewer).
pub(super) fn derive_privkey_with_basepoint(
    basepoint_secret: &SecretKey,
    basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<SecretKey, KeyError> {
    let tweak = scalar(sha256_two(per_commitment_point, basepoint))?;
    basepoint_secret
        .add_tweak(&tweak)
        .map_err(|_| KeyError::TweakOutOfRange)
}

/// The two tweaks of every revocation key, `SHA256(revocation_basepoint ||
/// per_commitment_point)` (of the basepoint) and `SHA256(per_commitment_point
/// || revocation_basepoint)` (of the point), as scalars.
pub(crate) fn revocation_tweaks(
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<(Scalar, Scalar), KeyError> {
    Ok((
        scalar(sha256_two(revocation_basepoint, per_commitment_point))?,
        scalar(sha256_two(per_commitment_point, revocation_basepoint))?,
    ))
}

/// `revocationpubkey`:
///
/// ```text
/// revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
///   + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
/// ```
pub fn derive_revocation_pubkey(
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    let (t1, t2) = revocation_tweaks(revocation_basepoint, per_commitment_point)?;
    let a = revocation_basepoint
        .mul_tweak(SECP256K1, &t1)
        .map_err(|_| KeyError::TweakOutOfRange)?;
    let b = per_commitment_point
        .mul_tweak(SECP256K1, &t2)
        .map_err(|_| KeyError::TweakOutOfRange)?;
    a.combine(&b).map_err(|_| KeyError::TweakOutOfRange)
}

/// [`derive_revocation_pubkey`] computed by the owner of the revocation
/// basepoint (`revocation_basepoint` is the public key of
/// `revocation_basepoint_secret`):
///
/// ```text
/// (revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)) * G
///   + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
/// ```
///
/// the same key, with a multiplication of the generator (precomputed
/// tables) in place of one of an arbitrary point.
pub(super) fn derive_revocation_pubkey_with_secret(
    revocation_basepoint_secret: &SecretKey,
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    let (t1, t2) = revocation_tweaks(revocation_basepoint, per_commitment_point)?;
    let a = revocation_basepoint_secret
        .mul_tweak(&t1)
        .map_err(|_| KeyError::TweakOutOfRange)?;
    let b = per_commitment_point
        .mul_tweak(SECP256K1, &t2)
        .map_err(|_| KeyError::TweakOutOfRange)?;
    PublicKey::from_secret_key(SECP256K1, &a)
        .combine(&b)
        .map_err(|_| KeyError::TweakOutOfRange)
}

/// `revocationprivkey`:
///
/// ```text
/// revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
///   + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)
/// ```
///
/// the secret of [`derive_revocation_pubkey`], known once the peer revealed
/// its per-commitment secret.
pub fn derive_revocation_privkey(
    revocation_basepoint_secret: &SecretKey,
    per_commitment_secret: &PerCommitmentSecret,
) -> Result<SecretKey, KeyError> {
    let pcs = per_commitment_secret.secret_key()?;
    let basepoint = PublicKey::from_secret_key(SECP256K1, revocation_basepoint_secret);
    let point = PublicKey::from_secret_key(SECP256K1, &pcs);
    let (t1, t2) = revocation_tweaks(&basepoint, &point)?;
    let a = revocation_basepoint_secret
        .mul_tweak(&t1)
        .map_err(|_| KeyError::TweakOutOfRange)?;
    let b = pcs.mul_tweak(&t2).map_err(|_| KeyError::TweakOutOfRange)?;
    a.add_tweak(&Scalar::from(b))
        .map_err(|_| KeyError::TweakOutOfRange)
}

/// The public keys one party contributes to a channel (sent in
/// `open_channel` / `accept_channel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelPublicKeys {
    pub funding_pubkey: FundingPubkey,
    pub revocation_basepoint: RevocationBasepoint,
    pub payment_basepoint: PaymentBasepoint,
    pub delayed_payment_basepoint: DelayedPaymentBasepoint,
    pub htlc_basepoint: HtlcBasepoint,
}
