//! Deterministic node and channel keys from the wallet seed.

use core::fmt;

use bitcoin::bip32::{ChildNumber, Xpriv};
use bitcoin::Network;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

use super::basepoints::{
    derive_privkey_with_basepoint, derive_revocation_privkey, derive_revocation_pubkey_with_secret,
    ChannelPublicKeys, DelayedPaymentBasepoint, FundingPubkey, HtlcBasepoint, PaymentBasepoint,
    PerCommitmentPoint, PerCommitmentSecret, RevocationBasepoint, RevocationPubkey,
};
use super::shachain::CommitmentSeed;
use super::KeyError;

/// BIP43 purpose used for all Lightning keys of this wallet.
pub const LN_PURPOSE: u32 = 1017;

const BRANCH_NODE: u32 = 0;
const BRANCH_CHANNEL: u32 = 1;

const ROLE_FUNDING: u32 = 0;
const ROLE_REVOCATION: u32 = 1;
const ROLE_PAYMENT: u32 = 2;
const ROLE_DELAYED_PAYMENT: u32 = 3;
const ROLE_HTLC: u32 = 4;
const ROLE_COMMITMENT_SEED: u32 = 5;

/// Index of a channel's key set, the only thing a backup needs besides the
/// seed to re-derive the channel's keys. Must be below 2^31 (it is used as a
/// hardened BIP32 index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelKeyIndex(u32);

impl ChannelKeyIndex {
    /// The largest valid index.
    pub const MAX: u32 = (1 << 31) - 1;

    /// Errors if `index` does not fit in 31 bits.
    pub fn new(index: u32) -> Result<Self, KeyError> {
        if index > Self::MAX {
            return Err(KeyError::InvalidChannelIndex);
        }
        Ok(Self(index))
    }
    /// The raw index.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The wallet's BIP32 root and the Lightning keys derived from it.
///
/// Derivation scheme (all steps hardened, `coin` = 0 on mainnet, 1 on every
/// test network, as in BIP44):
///
/// | key                                  | path                              |
/// |--------------------------------------|-----------------------------------|
/// | node key (`node_id`)                 | `m/1017'/coin'/0'/0'`             |
/// | channel `i` funding key              | `m/1017'/coin'/1'/i'/0'`          |
/// | channel `i` revocation basepoint     | `m/1017'/coin'/1'/i'/1'`          |
/// | channel `i` payment basepoint        | `m/1017'/coin'/1'/i'/2'`          |
/// | channel `i` delayed payment basepoint| `m/1017'/coin'/1'/i'/3'`          |
/// | channel `i` HTLC basepoint           | `m/1017'/coin'/1'/i'/4'`          |
/// | channel `i` per-commitment seed      | `m/1017'/coin'/1'/i'/5'`          |
///
/// The per-commitment (shachain) seed is the 32-byte private key at its path.
/// The root is the BIP32 master key of the seed (HMAC-SHA512 keyed with
/// `"Bitcoin seed"`).
#[derive(Clone)]
pub struct WalletKeys {
    ln_root: Xpriv,
}

impl fmt::Debug for WalletKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WalletKeys(..)")
    }
}

fn hardened(i: u32) -> Result<ChildNumber, KeyError> {
    ChildNumber::from_hardened_idx(i).map_err(|_| KeyError::InvalidChannelIndex)
}

impl WalletKeys {
    /// Derives the root from a BIP32 seed of 16 to 64 bytes.
    pub fn from_seed(seed: &[u8], network: Network) -> Result<Self, KeyError> {
        if !(16..=64).contains(&seed.len()) {
            return Err(KeyError::InvalidSeedLength);
        }
        let master = Xpriv::new_master(network, seed).map_err(|_| KeyError::Bip32Derivation)?;
        let coin = if network == Network::Bitcoin { 0 } else { 1 };
        let ln_root = master
            .derive_priv(SECP256K1, &[hardened(LN_PURPOSE)?, hardened(coin)?])
            .map_err(|_| KeyError::Bip32Derivation)?;
        Ok(Self { ln_root })
    }

    fn derive(&self, path: &[u32]) -> Result<SecretKey, KeyError> {
        let path = path
            .iter()
            .map(|&i| hardened(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .ln_root
            .derive_priv(SECP256K1, &path)
            .map_err(|_| KeyError::Bip32Derivation)?
            .private_key)
    }

    /// The node's identity secret key.
    pub fn node_secret(&self) -> Result<SecretKey, KeyError> {
        self.derive(&[BRANCH_NODE, 0])
    }

    /// The node id (public key of [`Self::node_secret`]).
    pub fn node_id(&self) -> Result<PublicKey, KeyError> {
        Ok(PublicKey::from_secret_key(SECP256K1, &self.node_secret()?))
    }

    /// All keys of the channel with key index `index`.
    pub fn channel_keys(&self, index: ChannelKeyIndex) -> Result<ChannelKeys, KeyError> {
        let k = |role| self.derive(&[BRANCH_CHANNEL, index.0, role]);
        Ok(ChannelKeys::from_secrets(
            k(ROLE_FUNDING)?,
            k(ROLE_REVOCATION)?,
            k(ROLE_PAYMENT)?,
            k(ROLE_DELAYED_PAYMENT)?,
            k(ROLE_HTLC)?,
            CommitmentSeed(k(ROLE_COMMITMENT_SEED)?.secret_bytes()),
        ))
    }
}

/// One channel's secret keys: our funding key, the four basepoint secrets
/// and the per-commitment seed.
#[derive(Clone)]
pub struct ChannelKeys {
    funding: SecretKey,
    revocation_base: SecretKey,
    payment_base: SecretKey,
    delayed_payment_base: SecretKey,
    htlc_base: SecretKey,
    commitment_seed: CommitmentSeed,
    /// The public keys of the secrets above, computed once.
    pubkeys: ChannelPublicKeys,
}

impl fmt::Debug for ChannelKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelKeys")
            .field("pubkeys", &self.pubkeys())
            .finish_non_exhaustive()
    }
}

impl ChannelKeys {
    /// Assembles a key set from explicit secrets (tests, imports).
    pub fn from_secrets(
        funding: SecretKey,
        revocation_base: SecretKey,
        payment_base: SecretKey,
        delayed_payment_base: SecretKey,
        htlc_base: SecretKey,
        commitment_seed: CommitmentSeed,
    ) -> Self {
        let pubkeys = ChannelPublicKeys {
            funding_pubkey: FundingPubkey::from_secret(&funding),
            revocation_basepoint: RevocationBasepoint::from_secret(&revocation_base),
            payment_basepoint: PaymentBasepoint::from_secret(&payment_base),
            delayed_payment_basepoint: DelayedPaymentBasepoint::from_secret(&delayed_payment_base),
            htlc_basepoint: HtlcBasepoint::from_secret(&htlc_base),
        };
        Self {
            funding,
            revocation_base,
            payment_base,
            delayed_payment_base,
            htlc_base,
            commitment_seed,
            pubkeys,
        }
    }

    /// The public half, as sent in `open_channel` / `accept_channel`.
    pub fn pubkeys(&self) -> ChannelPublicKeys {
        self.pubkeys
    }

    /// Secret of our funding key (signs commitment and closing transactions,
    /// spends our anchor).
    pub fn funding_secret(&self) -> &SecretKey {
        &self.funding
    }
    /// Secret of our revocation basepoint.
    pub fn revocation_base_secret(&self) -> &SecretKey {
        &self.revocation_base
    }
    /// Secret of our payment basepoint. Under `option_static_remotekey` this
    /// is directly the key of our `to_remote` output on the peer's commitments.
    pub fn payment_base_secret(&self) -> &SecretKey {
        &self.payment_base
    }
    /// Secret of our delayed payment basepoint.
    pub fn delayed_payment_base_secret(&self) -> &SecretKey {
        &self.delayed_payment_base
    }
    /// Secret of our HTLC basepoint.
    pub fn htlc_base_secret(&self) -> &SecretKey {
        &self.htlc_base
    }
    /// Our per-commitment seed.
    pub fn commitment_seed(&self) -> &CommitmentSeed {
        &self.commitment_seed
    }

    /// Our per-commitment secret for commitment `n`.
    pub fn per_commitment_secret(&self, n: u64) -> Result<PerCommitmentSecret, KeyError> {
        self.commitment_seed.secret(n)
    }
    /// Our per-commitment point for commitment `n`.
    pub fn per_commitment_point(&self, n: u64) -> Result<PerCommitmentPoint, KeyError> {
        self.commitment_seed.point(n)
    }

    /// `local_delayedprivkey` of our commitment with `point`: sweeps our
    /// `to_local` and second-stage HTLC outputs after the CSV delay.
    pub fn delayed_payment_key(&self, point: &PerCommitmentPoint) -> Result<SecretKey, KeyError> {
        derive_privkey_with_basepoint(
            &self.delayed_payment_base,
            &self.pubkeys.delayed_payment_basepoint.0,
            &point.0,
        )
    }
    /// Our HTLC key in the commitment (ours or the peer's) with `point`.
    pub fn htlc_key(&self, point: &PerCommitmentPoint) -> Result<SecretKey, KeyError> {
        derive_privkey_with_basepoint(&self.htlc_base, &self.pubkeys.htlc_basepoint.0, &point.0)
    }
    /// `revocationpubkey` of the peer's commitment with `point` (the
    /// revocation basepoint in it is ours): the key of
    /// [`RevocationBasepoint::derive`], computed with our secret (cheaper).
    pub fn peer_revocation_pubkey(
        &self,
        point: &PerCommitmentPoint,
    ) -> Result<RevocationPubkey, KeyError> {
        derive_revocation_pubkey_with_secret(
            &self.revocation_base,
            &self.pubkeys.revocation_basepoint.0,
            &point.0,
        )
        .map(RevocationPubkey)
    }
    /// `revocationprivkey` of the peer's commitment whose per-commitment
    /// secret the peer revealed: spends every output of that revoked commitment.
    pub fn revocation_key(&self, peer_secret: &PerCommitmentSecret) -> Result<SecretKey, KeyError> {
        derive_revocation_privkey(&self.revocation_base, peer_secret)
    }
}
