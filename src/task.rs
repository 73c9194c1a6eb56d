//! Tasks in one place: spawning, joining, and sets of tasks.
//!
//! The same items are at the crate root (`oneport::spawn`,
//! `oneport::JoinSet`, ...); this module gathers them under the path a
//! tokio user looks for (`tokio::task::JoinSet` becomes
//! `oneport::task::JoinSet`).

pub use crate::runtime::{
    spawn, spawn_blocking_task as spawn_blocking, yield_now, Join, JoinError, JoinHandle, JoinSet,
};
