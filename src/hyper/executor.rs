//! [`Executor`]: hyper's spawned tasks on the current oneport runtime.

use std::future::Future;

/// A [`hyper::rt::Executor`](::hyper::rt::Executor) that spawns each future
/// on the oneport runtime running on the calling thread
/// ([`oneport::spawn`](crate::spawn)), detached.
///
/// hyper calls it from inside a connection's future, so the tasks land
/// beside that connection; they need not be `Send` (an HTTP/2 connection
/// with `Rc` state in its service works). Each runtime of a
/// [`Pool`](crate::pool::Pool) runs its own connections' tasks.
///
/// # Panics
/// `execute` panics outside a oneport runtime, as `spawn` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Executor;

impl<F> ::hyper::rt::Executor<F> for Executor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        crate::spawn(fut).detach();
    }
}
