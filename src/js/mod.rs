//! wasm-bindgen surface.
