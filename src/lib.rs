//! lnwasm: a Lightning Network wallet engine that runs in the browser.
//!
//! The crate is a set of sans-IO cores (one module per concern) with a thin
//! wasm-bindgen layer in `js` on top. Everything except `js` builds and is
//! tested natively as well as for `wasm32-unknown-unknown`.

pub mod channel;
pub mod error;
pub mod invoice;
pub mod keys;
pub mod node;
pub mod noise;
pub mod onion;
pub mod payment;
pub mod peer;
pub mod store;
pub mod transport;
pub mod tx;
pub mod types;
pub mod util;
pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod js;
