//! Error conventions shared by every module.
//!
//! Each module has its own error enum. Every variant maps to a stable,
//! SCREAMING_SNAKE_CASE code through [`ErrorCode::code`]; the JS layer copies
//! that code into `error.code`, so codes are part of the public API and never
//! change meaning once released.

/// An error with a stable machine-readable code.
pub trait ErrorCode: core::fmt::Display {
    /// The stable code, e.g. `"BAD_CHECKSUM"`.
    fn code(&self) -> &'static str;
}
