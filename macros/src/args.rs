//! Arguments of `#[hooks(...)]` and of the method attributes.

use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token, Type, parse::Parser, punctuated::Punctuated};

/// `#[hooks(state = T)]`.
#[derive(Default)]
pub(crate) struct HooksArgs {
    pub(crate) state: Option<Type>,
}

pub(crate) fn parse_hooks_args(attr: proc_macro2::TokenStream) -> syn::Result<HooksArgs> {
    let mut args = HooksArgs::default();
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            return Err(syn::Error::new_spanned(
                meta,
                "expected `state = Type` in #[hooks]",
            ));
        };
        let ty: Type = syn::parse2(quote::ToTokens::to_token_stream(&nv.value))?;
        if nv.path.is_ident("state") {
            args.state = Some(ty);
        } else if nv.path.is_ident("adapter") {
            return Err(syn::Error::new_spanned(
                &nv.path,
                "#[hooks] works on every adapter: choose it with `AppBuilder::adapter`, not here",
            ));
        } else {
            return Err(syn::Error::new_spanned(
                &nv.path,
                "unknown argument for #[hooks]: expected `state`",
            ));
        }
    }
    Ok(args)
}

/// The arguments of `#[event("name", ns = "/x")]` or `#[on_connection(ns = "/x")]`.
pub(crate) struct MethodArgs {
    pub(crate) event: Option<LitStr>,
    pub(crate) ns: Option<LitStr>,
}

/// Parses a method attribute; `takes_event` says whether a leading event name is required.
pub(crate) fn parse_method_args(
    attr: &syn::Attribute,
    name: &str,
    takes_event: bool,
) -> syn::Result<MethodArgs> {
    let mut args = MethodArgs {
        event: None,
        ns: None,
    };
    let metas = match &attr.meta {
        Meta::Path(_) => Punctuated::new(),
        Meta::List(list) => {
            Punctuated::<Expr, Token![,]>::parse_terminated.parse2(list.tokens.clone())?
        }
        Meta::NameValue(nv) => {
            return Err(syn::Error::new_spanned(
                nv,
                format!("expected #[{name}(...)]"),
            ));
        }
    };
    for (i, expr) in metas.into_iter().enumerate() {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if i == 0 && takes_event => args.event = Some(s),
            Expr::Assign(assign) => {
                let is_ns = matches!(&*assign.left, Expr::Path(p) if p.path.is_ident("ns"));
                match (*assign.right).clone() {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) if is_ns => args.ns = Some(s),
                    _ if is_ns => {
                        return Err(syn::Error::new_spanned(
                            assign.right,
                            "`ns` takes a string, e.g. ns = \"/chat\"",
                        ));
                    }
                    _ => {
                        return Err(syn::Error::new_spanned(
                            assign.left,
                            format!("unknown argument for #[{name}]: expected `ns = \"/path\"`"),
                        ));
                    }
                }
            }
            other => {
                let expected = if takes_event {
                    "expected the event name as a string, then `ns = \"/path\"`"
                } else {
                    "expected `ns = \"/path\"`"
                };
                return Err(syn::Error::new_spanned(
                    other,
                    format!("unexpected argument for #[{name}]: {expected}"),
                ));
            }
        }
    }
    if takes_event && args.event.is_none() {
        return Err(syn::Error::new_spanned(
            attr,
            format!("#[{name}] needs the event name: #[{name}(\"name\")]"),
        ));
    }
    if let Some(ns) = &args.ns
        && !ns.value().starts_with('/')
    {
        return Err(syn::Error::new_spanned(ns, "a namespace starts with `/`"));
    }
    Ok(args)
}
