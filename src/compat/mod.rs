//! Adapters from oneport's streams to I/O traits of other ecosystems.
//!
//! oneport's streams speak `futures_io` natively; each module here lends
//! them one more family of traits, behind a cargo feature, by delegating
//! to those native implementations, so no stream has two I/O paths.

#[cfg(feature = "tokio-io")]
mod tokio_io;
