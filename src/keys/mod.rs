//! Key derivation: BIP32 node and channel keys, BOLT 3 per-commitment keys, shachain.
