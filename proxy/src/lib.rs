//! lnwasm-proxy: carries a browser wallet's BOLT 8 byte stream from a
//! WebSocket to a TCP connection to a Lightning node.
//!
//! The policy rules (path parsing, address classification, allowlists,
//! connection limits) are pure functions in [`policy`]; [`run`] serves
//! connections on a listener, so tests can start the proxy in-process:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = lnwasm_proxy::Config { allow_private: true, ..Default::default() };
//! tokio::spawn(lnwasm_proxy::run(config, listener));
//! # Ok(()) }
//! ```

pub mod config;
pub mod policy;
mod server;

pub use config::{parse_args, Command, Config, Logger, USAGE};
pub use server::run;
