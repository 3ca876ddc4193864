//! The `#[hooks]` attribute of [iostack](https://docs.rs/iostack), used through the facade as
//! `#[iostack::hooks]`: it turns an annotated `impl` block into an `iostack::Hooks` implementation.
//!
//! - `async fn init(&self, cx: &mut InitContext<State>) -> Result<(), HookError>` becomes the init hook;
//!   the state type comes from it, or from `#[hooks(state = State)]`.
//! - `#[event("name")]` / `#[event("name", ns = "/chat")]` methods handle that event; their arguments
//!   are extractors, exactly like hand-written handlers, and the namespace's stacks apply.
//! - `#[on_connection]`, `#[on_disconnect]` (both with an optional `ns = "/path"`) and `#[on_shutdown]`
//!   methods run at those points, in declaration order; their arguments are picked by type
//!   (`SocketRef`, `Identity`, `Option<Identity>`, `DisconnectReason`, `Io`).
//! - The generated hooks work on every adapter (memory, Redis, MongoDB): the app's adapter is chosen
//!   with `AppBuilder::adapter`, never in the hooks.
//!
//! Misuse is a compile error pointing at the offending item. See the facade's docs for an example.

mod args;
mod expand;
mod lifecycle;

use proc_macro::TokenStream;

/// Generates the `iostack::Hooks` implementation of an annotated `impl` block (see the crate docs).
#[proc_macro_attribute]
pub fn hooks(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    match expand::expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            // Re-emit the item (attributes stripped) so the rest of the code still resolves.
            let mut out = error.to_compile_error();
            if let Ok(mut block) = syn::parse2::<syn::ItemImpl>(item2) {
                expand::strip_hook_attributes(&mut block);
                out.extend(quote::quote!(#block));
            }
            out.into()
        }
    }
}
