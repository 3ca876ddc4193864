//! The bodies of the generated `on_connection`, `on_disconnect` and `on_shutdown` methods.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use crate::expand::{Marked, typed_args};

/// Calls to every `kind` method, in declaration order, with arguments extracted by
/// `FromConnection` (connection and disconnect hooks) or the `Io` handle (shutdown hooks).
///
/// A connection or disconnect method runs only if every argument could be extracted (an
/// `Identity` argument makes it run for authenticated sockets only) and, with `ns = "/x"`, only
/// for sockets of that namespace.
pub(crate) fn calls(marked: &[Marked], kind: &str) -> Vec<TokenStream> {
    let mut calls = Vec::new();
    for m in marked.iter().filter(|m| m.kind == kind) {
        let method = &m.method.sig.ident;
        let types: Vec<&Type> = typed_args(&m.method).collect();
        if kind == "on_shutdown" {
            let args = types.iter().map(|_| quote!(::std::clone::Clone::clone(io)));
            calls.push(quote!({ self.#method(#(#args),*).await; }));
            continue;
        }
        let reason = match kind {
            "on_disconnect" => quote!(::std::option::Option::Some(reason)),
            _ => quote!(::std::option::Option::None),
        };
        let names: Vec<_> = (0..types.len())
            .map(|i| quote::format_ident!("__iostack_arg{i}"))
            .collect();
        let extract = types.iter().zip(&names).map(|(ty, name)| {
            quote! {
                let ::std::option::Option::Some(#name) =
                    <#ty as ::iostack::FromConnection>::from_connection(socket, #reason)
                else {
                    break 'hook;
                };
            }
        });
        let namespace =
            m.ns.as_ref()
                .map(|ns| quote!(if socket.ns() != #ns { break 'hook; }));
        calls.push(quote! {
            'hook: {
                #namespace
                #(#extract)*
                self.#method(#(#names),*).await;
            }
        });
    }
    calls
}
