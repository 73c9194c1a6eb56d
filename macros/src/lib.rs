//! The attributes `#[oneport::main]` and `#[oneport::test]`, re-exported by
//! `oneport` (use them from there; the generated code names `::oneport`).
//!
//! Both turn an `async fn` into the plain function Rust wants (a `main`, a
//! `#[test]`) whose body runs on a fresh oneport runtime through
//! `oneport::run`. They exist because that wrapper is the same few lines in
//! every program and test, and a wrapper written by hand easily drops an
//! attribute or the return type; the macros keep both.
//!
//! A mistake (not an `async fn`, parameters, generics, arguments given to
//! the attribute, an item that is not a function) is a compile error
//! pointing at the offending tokens, never a panic inside the macro.
//! `oneport`'s documentation of the re-exports shows each case.

mod check;
mod expand;

use proc_macro::TokenStream;

/// (Implemented in the `oneport-macros` crate; use it as `oneport::main`.
/// `async fn f() -> R { body }` becomes
/// `fn f() -> R { ::oneport::run(async move { body }) }`.)
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::main(args.into(), item.into()).into()
}

/// (Implemented in the `oneport-macros` crate; use it as `oneport::test`.
/// `async fn t() { body }` becomes
/// `#[test] fn t() { ::oneport::run(async { body }) }`.)
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::test(args.into(), item.into()).into()
}
