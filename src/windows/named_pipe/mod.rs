//! Windows named pipes on the runtime's completion port.
//!
//! A server creates an instance of a pipe name with [`ServerOptions`] and
//! waits for a client with [`NamedPipeServer::connect`]; a client opens the
//! name with [`ClientOptions`]. Each instance serves one client at a time: to
//! serve several, create the next instance (same name, without
//! `first_pipe_instance`) as soon as one is connected.
//!
//! Both ends implement `futures_io::AsyncRead` and `AsyncWrite` and also
//! offer owned-buffer [`read`](NamedPipeServer::read) /
//! [`write`](NamedPipeServer::write). Every read and write is one overlapped
//! operation of exactly the caller's size: there is no fixed internal
//! buffer, so a 1 MiB read can return 1 MiB at once.
//!
//! **End of stream.** When the other end closes (or the server disconnects),
//! reads return `Ok(0)` and writes fail with `ErrorKind::BrokenPipe`.
//!
//! **Message mode.** With [`PipeMode::Message`] each write is one message.
//! A message longer than the read buffer is not lost: the read returns the
//! part that fit (`Ok(n)` with `n` the buffer's spare capacity) and the
//! following reads return the rest. [`NamedPipeServer::read_message`] says
//! whether a read ended its message.
//!
//! ```no_run
//! # oneport::run(async {
//! use oneport::windows::named_pipe::{ClientOptions, ServerOptions};
//!
//! let name = r"\\.\pipe\oneport-example";
//! let server = ServerOptions::new().first_pipe_instance(true).create(name)?;
//! let client = ClientOptions::new().open(name)?;
//! server.connect().await?;
//! let (n, _) = client.write(&b"ping"[..]).await;
//! assert_eq!(n?, 4);
//! let (n, buf) = server.read(Vec::with_capacity(64)).await;
//! assert_eq!(&buf[..n?], b"ping");
//! # std::io::Result::Ok(()) }).unwrap();
//! ```
//!
//! A pipe's handle is registered with the runtime that created or opened it:
//! use it on that runtime only. Used on another runtime, or after its
//! runtime was dropped, every operation fails with an `InvalidInput` error
//! that says so. Reads and writes through `futures_io` follow the write
//! semantics of every oneport pipe (`poll_write` accepts the bytes and
//! starts one write; its failure is reported by the next `poll_write`,
//! `poll_flush` or `poll_close`).

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::pin::Pin;
use std::task::{Context, Poll};

use windows_sys::Win32::Foundation::{
    ERROR_PIPE_CONNECTED, GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, FILE_READ_ATTRIBUTES,
    FILE_WRITE_ATTRIBUTES, OPEN_EXISTING, PIPE_ACCESS_INBOUND, PIPE_ACCESS_OUTBOUND,
    SECURITY_IDENTIFICATION, SECURITY_SQOS_PRESENT,
};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, SetNamedPipeHandleState,
    PIPE_READMODE_BYTE, PIPE_READMODE_MESSAGE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE,
    PIPE_TYPE_MESSAGE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};

use crate::buf::{IoBuf, IoBufMut};
use crate::lowlevel::overlapped::PortBinding;
use crate::lowlevel::submit_overlapped;
pub use crate::sys::stream::MessageRead;
use crate::sys::stream::OverlappedStream;

/// How a pipe carries data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PipeMode {
    /// A stream of bytes; write boundaries are not kept.
    #[default]
    Byte,
    /// Each write is a message; reads return at most one message.
    Message,
}

/// Builds the server end of a named pipe: an instance of a pipe name.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    first_pipe_instance: bool,
    pipe_mode: PipeMode,
    inbound: bool,
    outbound: bool,
    max_instances: usize,
    in_buffer_size: u32,
    out_buffer_size: u32,
    reject_remote_clients: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

/// UTF-16 with a terminating NUL; a NUL inside the name is an error.
fn wide_name(name: &OsStr) -> io::Result<Vec<u16>> {
    let w: Vec<u16> = name.encode_wide().collect();
    if w.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a pipe name must not contain NUL characters",
        ));
    }
    Ok(w.into_iter().chain([0]).collect())
}

impl ServerOptions {
    /// Byte mode, both directions, unlimited instances, 64 KiB buffers,
    /// remote clients rejected.
    pub fn new() -> ServerOptions {
        ServerOptions {
            first_pipe_instance: false,
            pipe_mode: PipeMode::Byte,
            inbound: true,
            outbound: true,
            max_instances: PIPE_UNLIMITED_INSTANCES as usize,
            in_buffer_size: 65536,
            out_buffer_size: 65536,
            reject_remote_clients: true,
        }
    }

    /// Fail (with `PermissionDenied`) unless this is the first instance of
    /// the name: guards against another process owning it already.
    pub fn first_pipe_instance(&mut self, first: bool) -> &mut Self {
        self.first_pipe_instance = first;
        self
    }

    /// Byte or message mode (for writing and reading alike). Every instance
    /// of a name must use the same type.
    pub fn pipe_mode(&mut self, mode: PipeMode) -> &mut Self {
        self.pipe_mode = mode;
        self
    }

    /// Whether the server may read (the client writes).
    pub fn access_inbound(&mut self, on: bool) -> &mut Self {
        self.inbound = on;
        self
    }

    /// Whether the server may write (the client reads).
    pub fn access_outbound(&mut self, on: bool) -> &mut Self {
        self.outbound = on;
        self
    }

    /// How many instances the name may have at once: 1 to 254, or 255 for
    /// unlimited (the default). Other values make `create` fail with
    /// `InvalidInput`.
    pub fn max_instances(&mut self, n: usize) -> &mut Self {
        self.max_instances = n;
        self
    }

    /// The input buffer size the system reserves (advisory).
    pub fn in_buffer_size(&mut self, bytes: u32) -> &mut Self {
        self.in_buffer_size = bytes;
        self
    }

    /// The output buffer size the system reserves (advisory).
    pub fn out_buffer_size(&mut self, bytes: u32) -> &mut Self {
        self.out_buffer_size = bytes;
        self
    }

    /// Whether clients on other machines are refused (default: yes).
    pub fn reject_remote_clients(&mut self, reject: bool) -> &mut Self {
        self.reject_remote_clients = reject;
        self
    }

    /// Creates an instance of the pipe `name` (`\\.\pipe\...`), registered
    /// with the current runtime. Clients can open it at once; call
    /// [`NamedPipeServer::connect`] to wait for one.
    ///
    /// # Panics
    /// When called outside a oneport runtime.
    pub fn create(&self, name: impl AsRef<OsStr>) -> io::Result<NamedPipeServer> {
        if self.max_instances == 0 || self.max_instances > PIPE_UNLIMITED_INSTANCES as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("max_instances must be 1 to 255, not {}", self.max_instances),
            ));
        }
        if !self.inbound && !self.outbound {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a pipe needs at least one of access_inbound and access_outbound",
            ));
        }
        let name = wide_name(name.as_ref())?;
        let mut open_mode = FILE_FLAG_OVERLAPPED;
        if self.inbound {
            open_mode |= PIPE_ACCESS_INBOUND;
        }
        if self.outbound {
            open_mode |= PIPE_ACCESS_OUTBOUND;
        }
        if self.first_pipe_instance {
            open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
        }
        let mut pipe_mode = PIPE_WAIT
            | match self.pipe_mode {
                PipeMode::Byte => PIPE_TYPE_BYTE | PIPE_READMODE_BYTE,
                PipeMode::Message => PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
            };
        if self.reject_remote_clients {
            pipe_mode |= PIPE_REJECT_REMOTE_CLIENTS;
        }
        // SAFETY: `name` is NUL-terminated UTF-16; no security attributes.
        let h = unsafe {
            CreateNamedPipeW(
                name.as_ptr(),
                open_mode,
                pipe_mode,
                self.max_instances as u32,
                self.out_buffer_size,
                self.in_buffer_size,
                0,
                std::ptr::null(),
            )
        };
        if h == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh handle nobody else owns.
        let handle = unsafe { OwnedHandle::from_raw_handle(h) };
        let binding = PortBinding::register(handle.as_raw_handle())?;
        Ok(NamedPipeServer {
            io: OverlappedStream::bound(handle, binding),
        })
    }
}

/// Opens the client end of a named pipe.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    read: bool,
    write: bool,
    pipe_mode: PipeMode,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// Read and write access, byte read mode.
    pub fn new() -> ClientOptions {
        ClientOptions {
            read: true,
            write: true,
            pipe_mode: PipeMode::Byte,
        }
    }

    /// Whether to open for reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Whether to open for writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// The read mode: [`PipeMode::Message`] needs a message-type pipe.
    pub fn pipe_mode(&mut self, mode: PipeMode) -> &mut Self {
        self.pipe_mode = mode;
        self
    }

    /// Opens the pipe `name`, registered with the current runtime.
    ///
    /// When every instance is busy this fails at once with raw OS error 231
    /// (`ERROR_PIPE_BUSY`): try again later (for example after a short
    /// sleep). A name nobody serves gives `NotFound`.
    ///
    /// # Panics
    /// When called outside a oneport runtime.
    pub fn open(&self, name: impl AsRef<OsStr>) -> io::Result<NamedPipeClient> {
        let name = wide_name(name.as_ref())?;
        // FILE_WRITE_ATTRIBUTES lets a read-only client set the read mode.
        let mut access = FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES;
        if self.read {
            access |= GENERIC_READ;
        }
        if self.write {
            access |= GENERIC_WRITE;
        }
        // SAFETY: `name` is NUL-terminated UTF-16; no security attributes
        // or template. SECURITY_IDENTIFICATION keeps the server from
        // impersonating us beyond identifying the caller.
        let h = unsafe {
            CreateFileW(
                name.as_ptr(),
                access,
                0,
                std::ptr::null(),
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                std::ptr::null_mut(),
            )
        };
        if h == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh handle nobody else owns.
        let handle = unsafe { OwnedHandle::from_raw_handle(h) };
        if self.pipe_mode == PipeMode::Message {
            let mode = PIPE_READMODE_MESSAGE;
            // SAFETY: `mode` outlives the call; the other settings are left.
            let ok =
                unsafe { SetNamedPipeHandleState(h, &mode, std::ptr::null(), std::ptr::null()) };
            if ok == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let binding = PortBinding::register(handle.as_raw_handle())?;
        Ok(NamedPipeClient {
            io: OverlappedStream::bound(handle, binding),
        })
    }
}

/// The server end of a named pipe instance.
pub struct NamedPipeServer {
    io: OverlappedStream,
}

/// The client end of a named pipe.
pub struct NamedPipeClient {
    io: OverlappedStream,
}

impl NamedPipeServer {
    /// Waits for a client to connect to this instance (an overlapped
    /// `ConnectNamedPipe`). Returns at once if one is connected already.
    /// Dropping the future stops waiting.
    pub async fn connect(&self) -> io::Result<()> {
        self.io.check_bound()?;
        let h = self.io.raw();
        // SAFETY: one ConnectNamedPipe on `h` with the given OVERLAPPED and
        // no other memory. ERROR_PIPE_CONNECTED is a failure return for
        // which no packet is queued: it comes back at once.
        let (r, ()) = unsafe {
            submit_overlapped(h, (), move |ov, _| {
                if ConnectNamedPipe(h, ov) == 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            })
        }
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_CONNECTED as i32) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Disconnects the current client (`DisconnectNamedPipe`): its reads end
    /// and its writes fail; data not yet read is discarded. The instance can
    /// then [`connect`](Self::connect) to the next client.
    pub fn disconnect(&self) -> io::Result<()> {
        // SAFETY: plain call on our open handle.
        if unsafe { DisconnectNamedPipe(self.io.raw()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The I/O methods both ends share.
macro_rules! pipe_io {
    ($ty:ty) => {
        impl $ty {
            /// Reads into the spare capacity of `buf` (one read of that
            /// size), extends its length and returns how many bytes came.
            /// `Ok(0)` at end of stream. In message mode a message longer
            /// than the spare capacity fills it and the next read continues
            /// it.
            pub async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
                self.io.read(buf).await
            }

            /// Like [`read`](Self::read), also saying whether the read ended
            /// a message (message mode; in byte mode every read that
            /// transfers bytes, or ends the stream, says `true`). A buffer
            /// with no spare capacity reads nothing and says `false`.
            pub async fn read_message<B: IoBufMut>(&self, buf: B) -> (io::Result<MessageRead>, B) {
                self.io.read_message(buf).await
            }

            /// Writes the initialised bytes of `buf` (one write of that size;
            /// one message in message mode) and returns how many were
            /// written. Fails with `BrokenPipe` once the other end is gone.
            pub async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
                self.io.write(buf).await
            }
        }

        impl AsRawHandle for $ty {
            fn as_raw_handle(&self) -> RawHandle {
                self.io.raw()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("handle", &self.io.raw())
                    .finish()
            }
        }

        /// Each `poll_read` of a new read is one overlapped read of
        /// `buf.len()` bytes.
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_read(cx, buf)
            }
        }

        /// `poll_write` accepts the bytes and starts one overlapped write
        /// of them; its failure is reported by the next `poll_write` or
        /// `poll_flush`. Flush (or close) before dropping the pipe: dropping
        /// it cancels a write still in flight.
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.io.poll_flush(cx)
            }

            fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.io.poll_flush(cx)
            }
        }
    };
}

pipe_io!(NamedPipeServer);
pipe_io!(NamedPipeClient);
