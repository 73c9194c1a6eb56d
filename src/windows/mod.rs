//! Windows-only public types.
//!
//! Everything here is built on the overlapped primitives of
//! [`lowlevel`](crate::lowlevel) (`register_with_iocp`, `read_overlapped`,
//! `write_overlapped`, `submit_overlapped`): operations complete through the
//! runtime's one completion port, with no helper thread.

pub mod named_pipe;
