//! Windows: files and child pipes as overlapped I/O on the runtime's
//! completion port, child exit through `wait_for_object`.

pub(crate) mod fs;
pub(crate) mod net;
pub(crate) mod process;
pub(crate) mod signal;
pub(crate) mod stream;
pub(crate) mod uds;
