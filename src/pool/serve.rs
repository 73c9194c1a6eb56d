//! One TCP port served by every runtime of a pool.
//!
//! The platform decides how many listening sockets there are
//! (`sys::net::pool_listeners`): on Linux one per runtime on the same
//! address (`SO_REUSEPORT`), so the kernel spreads the connections and
//! nothing crosses threads; on Windows one, on runtime 0, which hands each
//! connection as a standard socket to the next runtime round robin.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{Pool, PoolHandle};
use crate::net::{TcpListener, TcpStream};

/// How long an accept loop pauses after an error such as `EMFILE` before
/// it tries again, so a full fd table does not become a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

impl Pool {
    /// Listens on `addr` with every runtime of the pool and runs
    /// `handler(stream, peer)` as a task for each connection, on the
    /// runtime that owns it. Returns the bound address (port 0 picks a free
    /// port). Serving lasts as long as the pool.
    ///
    /// On Linux every runtime accepts on its own `SO_REUSEPORT` socket; on
    /// other platforms runtime 0 accepts and hands connections over round
    /// robin. An accept error (a full fd table, say) is reported through
    /// the `log` facade (target `"oneport"`) and the loop goes on after a
    /// short pause.
    pub fn serve<H, F>(&self, addr: SocketAddr, handler: H) -> io::Result<SocketAddr>
    where
        H: Fn(TcpStream, SocketAddr) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + 'static,
    {
        let handler = Arc::new(handler);
        let pool = self.handle();
        let (listeners, local) = crate::sys::net::pool_listeners(addr, self.len())?;
        let spread = listeners.len() < self.len();
        for (index, listener) in listeners.into_iter().enumerate() {
            let handler = handler.clone();
            let pool = pool.clone();
            pool.clone().run_on(index, move || match TcpListener::from_std(listener) {
                Ok(listener) => {
                    let hand_over = spread.then_some(pool);
                    crate::spawn(accept_loop(listener, index, hand_over, handler)).detach();
                }
                Err(e) => log::warn!(target: "oneport", "pool: listener for runtime {index} failed: {e}"),
            });
        }
        Ok(local)
    }
}

/// Accepts for ever on `listener` (runtime `own`), running `handler` for
/// each connection here or, with `hand_over`, on the next runtime.
async fn accept_loop<H, F>(
    listener: TcpListener,
    own: usize,
    hand_over: Option<PoolHandle>,
    handler: Arc<H>,
) where
    H: Fn(TcpStream, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if crate::is_closed_resource(&e) => return,
            Err(e) => {
                log::warn!(target: "oneport", "pool: accept on runtime {own} failed: {e}");
                crate::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let target = hand_over.as_ref().map(|pool| (pool, pool.next_index()));
        let Some((pool, target)) = target.filter(|&(_, target)| target != own) else {
            crate::spawn(handler(stream, peer)).detach();
            continue;
        };
        let std_stream = stream.into_std();
        let handler = handler.clone();
        pool.run_on(target, move || match TcpStream::from_std(std_stream) {
            Ok(stream) => crate::spawn(handler(stream, peer)).detach(),
            Err(e) => {
                log::warn!(target: "oneport", "pool: hand-over to runtime {target} failed: {e}")
            }
        });
    }
}
