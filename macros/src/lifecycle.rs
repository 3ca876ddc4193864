//! The bodies of the generated `on_connection`, `on_disconnect` and `on_shutdown` methods.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use crate::expand::{Marked, typed_args};

/// Calls to every `kind` method, in declaration order, with arguments picked by type.
pub(crate) fn calls(marked: &[Marked], kind: &str) -> syn::Result<Vec<TokenStream>> {
    let mut calls = Vec::new();
    for m in marked.iter().filter(|m| m.kind == kind) {
        let method = &m.method.sig.ident;
        let mut needs_identity = false;
        let mut args = Vec::new();
        for ty in typed_args(&m.method) {
            let arg = match (type_name(ty).as_deref(), kind) {
                (Some("SocketRef"), "on_connection" | "on_disconnect") => {
                    quote!(::std::clone::Clone::clone(socket))
                }
                (Some("Identity"), "on_connection" | "on_disconnect") => {
                    needs_identity = true;
                    quote!(::std::clone::Clone::clone(identity.as_ref().unwrap()))
                }
                (Some("Option"), "on_connection" | "on_disconnect") => {
                    quote!(::std::clone::Clone::clone(&identity))
                }
                (Some("DisconnectReason"), "on_disconnect") => quote!(reason),
                (Some("Io"), "on_shutdown") => quote!(::std::clone::Clone::clone(io)),
                _ => {
                    let expected = match kind {
                        "on_shutdown" => "Io",
                        "on_disconnect" => {
                            "SocketRef, Identity, Option<Identity>, DisconnectReason"
                        }
                        _ => "SocketRef, Identity, Option<Identity>",
                    };
                    return Err(syn::Error::new_spanned(
                        ty,
                        format!("#[{kind}] methods take arguments of these types only: {expected}"),
                    ));
                }
            };
            args.push(arg);
        }
        let identity = (kind != "on_shutdown")
            .then(|| quote!(let identity = socket.extensions.get::<::iostack::Identity>();));
        let call = if needs_identity {
            quote!({ if identity.is_some() { self.#method(#(#args),*).await; } })
        } else {
            quote!({ self.#method(#(#args),*).await; })
        };
        calls.push(match &m.ns {
            Some(ns) => quote!({ #identity if socket.ns() == #ns #call }),
            None => quote!({ #identity #call }),
        });
    }
    Ok(calls)
}

/// The last path segment of a type (`Option` for `Option<Identity>`).
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
