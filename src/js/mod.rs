//! The wasm-bindgen surface: a thin layer that converts between JS values
//! and the Rust cores. Nothing here holds protocol logic.
//!
//! Errors reach JS as `Error` objects with a stable `code` property (see
//! [`crate::error::ErrorCode`]); the TypeScript declarations for every type
//! crossing the boundary live in `types.d.ts`, emitted into the package's
//! `.d.ts`.

mod invoice;
mod node;
mod peer;

use js_sys::{Error, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::ErrorCode;

pub use invoice::{decode_invoice, encode_invoice};
pub use node::LnNode;
pub use peer::{connect_peer, PeerHandle};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

/// A JS `Error` named `LnwasmError` with `code` set.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let e = Error::new(message);
    e.set_name("LnwasmError");
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

/// Converts any core error into a JS error.
pub(crate) fn to_js<E: ErrorCode>(e: E) -> JsValue {
    js_error(e.code(), &e.to_string())
}

/// An argument from JS that is missing or of the wrong shape.
pub(crate) fn bad_arg(what: &str) -> JsValue {
    js_error("INVALID_ARGUMENT", what)
}
