//! The code the two attributes generate from a checked `async fn`.
//!
//! The function keeps its attributes, visibility, name and return type and
//! loses only `async`; its body becomes an `async` block given to
//! `::oneport::run`, which starts a runtime on the calling thread and
//! drives the block to completion. The absolute paths (`::oneport`,
//! `::core::prelude::v1::test`) keep the expansion working whatever the
//! user's crate has imported or named `test`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::check::{self, Kind, Rejected};

/// `#[oneport::main]`: `async fn f() -> R { body }` becomes
/// `fn f() -> R { ::oneport::run(async move { body }) }`.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    match check::async_fn(Kind::Main, args, item) {
        Ok(f) => run_body(f, quote!(async move)),
        Err(rejected) => errors_then_item(rejected, quote!(async move)),
    }
}

/// `#[oneport::test]`: as `main`, and the function is marked `#[test]`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    match check::async_fn(Kind::Test, args, item) {
        Ok(f) => {
            let f = run_body(f, quote!(async));
            quote! {
                #[::core::prelude::v1::test]
                #f
            }
        }
        Err(rejected) => errors_then_item(rejected, quote!(async)),
    }
}

/// The compile errors, then the item in the form that adds the fewest
/// errors of the compiler's own: an `async fn` with its body run as if
/// expanded (without `#[test]`; otherwise `async` on `main` is one more
/// error), anything else as written.
fn errors_then_item(rejected: Box<Rejected>, block_kind: TokenStream) -> TokenStream {
    let mut out = rejected.error.to_compile_error();
    match rejected.function {
        Some(f) if f.sig.asyncness.is_some() => out.extend(run_body(f, block_kind)),
        _ => out.extend(rejected.original),
    }
    out
}

/// The synchronous function that runs `f`'s body on a fresh runtime.
///
/// The block needs no type annotation: the compiler infers what it returns
/// (and so what `?` in it converts errors into) from the function's return
/// type, through `run`'s `F::Output`.
fn run_body(f: ItemFn, block_kind: TokenStream) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = f;
    sig.asyncness = None;
    quote! {
        #(#attrs)*
        #vis #sig {
            ::oneport::run(#block_kind #block)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The expansions and every error message, checked on token streams
    //! (the compile-fail doc tests of `oneport` check the same errors
    //! through the compiler).
    use super::*;

    fn tokens(s: &str) -> TokenStream {
        s.parse().unwrap()
    }

    fn same(a: TokenStream, b: &str) {
        assert_eq!(a.to_string(), tokens(b).to_string());
    }

    #[test]
    fn main_keeps_attributes_visibility_and_return_type() {
        same(
            main(
                tokens(""),
                tokens("#[allow(unused)] pub async fn main() -> std::io::Result<()> { Ok(()) }"),
            ),
            "#[allow(unused)] pub fn main() -> std::io::Result<()> {
                ::oneport::run(async move { Ok(()) })
            }",
        );
    }

    #[test]
    fn test_adds_the_test_attribute_and_keeps_the_others() {
        same(
            test(
                tokens(""),
                tokens("#[should_panic] async fn boom() { panic!() }"),
            ),
            "#[::core::prelude::v1::test] #[should_panic] fn boom() {
                ::oneport::run(async { panic!() })
            }",
        );
    }

    #[test]
    fn every_mistake_is_an_error_naming_the_attribute() {
        // (attribute, its arguments, the item, the message, what follows the errors)
        for (kind, args, item, says, follows) in [
            (
                Kind::Main,
                "flavor = 1",
                "async fn main() {}",
                "#[oneport::main] takes no arguments",
                "fn main () { :: oneport :: run (async move { }) }",
            ),
            (
                Kind::Test,
                "x",
                "async fn t() {}",
                "#[oneport::test] takes no arguments",
                "fn t () { :: oneport :: run (async { }) }",
            ),
            (
                Kind::Main,
                "",
                "fn main() {}",
                "needs an `async fn`: write `async fn main`",
                "fn main () { }",
            ),
            (
                Kind::Test,
                "",
                "fn t() {}",
                "needs an `async fn`: write `async fn t`",
                "fn t () { }",
            ),
            (
                Kind::Main,
                "",
                "async fn main(n: u32) {}",
                "cannot take parameters",
                "fn main (n : u32) {",
            ),
            (
                Kind::Test,
                "",
                "async fn t(n: u32) {}",
                "a test function cannot take parameters",
                "fn t (n : u32) {",
            ),
            (
                Kind::Main,
                "",
                "async fn main<T>() {}",
                "cannot be generic",
                "fn main < T > () {",
            ),
            (
                Kind::Test,
                "",
                "struct S;",
                "this item is not a function",
                "struct S ;",
            ),
            (
                Kind::Main,
                "",
                "mod m {}",
                "this item is not a function",
                "mod m { }",
            ),
            (
                Kind::Test,
                "",
                "#[test] async fn t() {}",
                "already adds #[test]",
                "# [test] fn t () {",
            ),
        ] {
            let out = match kind {
                Kind::Main => main(tokens(args), tokens(item)),
                Kind::Test => test(tokens(args), tokens(item)),
            };
            let text = out.to_string();
            assert!(
                text.starts_with(":: core :: compile_error !"),
                "{item}: {text}"
            );
            assert!(text.contains(says), "{item}: expected {says:?} in {text}");
            // The item follows, never turned into a test.
            assert!(
                text.contains(follows),
                "{item}: expected {follows:?} in {text}"
            );
            assert!(!text.contains("v1 :: test"), "{item}: {text}");
        }
    }

    #[test]
    fn several_mistakes_are_reported_together() {
        let text = main(tokens("x"), tokens("fn main(n: u32) {}")).to_string();
        assert_eq!(text.matches("compile_error").count(), 3, "{text}");
    }
}
