//! What both attributes demand of the item they are put on, checked before
//! anything is generated.
//!
//! Every mistake becomes a `syn::Error` spanned on the offending tokens (the
//! arguments, the `fn` keyword, the parameters, ...), so the compiler
//! points at the exact place; several mistakes in one item are reported
//! together. Nothing here panics: a panicking macro gives the user an
//! internal-error message instead of a pointer into their code.

use proc_macro2::TokenStream;
use syn::{Item, ItemFn};

/// Which attribute is checking, for its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[oneport::main]`
    Main,
    /// `#[oneport::test]`
    Test,
}

impl Kind {
    /// The attribute as the user wrote it.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[oneport::main]",
            Kind::Test => "#[oneport::test]",
        }
    }

    /// What the function is, in a message.
    fn what(self) -> &'static str {
        match self {
            Kind::Main => "the function it starts",
            Kind::Test => "a test function",
        }
    }
}

/// An item the attribute cannot expand.
pub(crate) struct Rejected {
    /// Every mistake found, as one error.
    pub(crate) error: syn::Error,
    /// The item when it is a function, to be kept in some form: a function
    /// that still exists gives no follow-up "cannot find" errors elsewhere
    /// in the user's crate.
    pub(crate) function: Option<ItemFn>,
    /// The item as it was written.
    pub(crate) original: TokenStream,
}

/// Parses `item` as an `async fn` without parameters or generics and
/// checks that the attribute got no arguments.
pub(crate) fn async_fn(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> Result<ItemFn, Box<Rejected>> {
    let parsed = match syn::parse2::<Item>(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            return Err(Box::new(Rejected {
                error,
                function: None,
                original: item,
            }))
        }
    };
    let mut errors = Vec::new();
    if !args.is_empty() {
        errors.push(syn::Error::new_spanned(
            &args,
            format!("{} takes no arguments", kind.attribute()),
        ));
    }
    let Item::Fn(f) = parsed else {
        let mut error = syn::Error::new_spanned(
            &parsed,
            format!(
                "{} can only be used on an `async fn`, and this item is not a function",
                kind.attribute()
            ),
        );
        if let Some(mut earlier) = combine(errors) {
            earlier.combine(error);
            error = earlier;
        }
        return Err(Box::new(Rejected {
            error,
            function: None,
            original: item,
        }));
    };
    if f.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            f.sig.fn_token,
            format!(
                "{} needs an `async fn`: write `async fn {}`",
                kind.attribute(),
                f.sig.ident
            ),
        ));
    }
    if !f.sig.inputs.is_empty() {
        errors.push(syn::Error::new_spanned(
            &f.sig.inputs,
            format!(
                "{}: {} cannot take parameters",
                kind.attribute(),
                kind.what()
            ),
        ));
    }
    if !f.sig.generics.params.is_empty() || f.sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &f.sig.generics,
            format!("{}: {} cannot be generic", kind.attribute(), kind.what()),
        ));
    }
    if kind == Kind::Test {
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("test")) {
            errors.push(syn::Error::new_spanned(
                attr,
                "#[oneport::test] already adds #[test]: remove this one",
            ));
        }
    }
    match combine(errors) {
        None => Ok(f),
        Some(error) => Err(Box::new(Rejected {
            error,
            function: Some(f),
            original: item,
        })),
    }
}

/// One error carrying every message, or `None` when there are none.
fn combine(errors: Vec<syn::Error>) -> Option<syn::Error> {
    errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    })
}
