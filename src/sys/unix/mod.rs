//! Linux: files on the blocking pool, children through pidfds and
//! nonblocking pipes on the readiness waits.

pub(crate) mod fs;
pub(crate) mod net;
pub(crate) mod process;
pub(crate) mod signal;
pub(crate) mod uds;
