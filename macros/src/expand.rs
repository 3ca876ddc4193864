//! From the annotated `impl` block to the `Hooks` implementation.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Type, spanned::Spanned};

use crate::args::{parse_hooks_args, parse_method_args};

const LIFECYCLE: [&str; 3] = ["on_connection", "on_disconnect", "on_shutdown"];

/// A method marked with one of our attributes.
pub(crate) struct Marked {
    pub(crate) kind: &'static str,
    pub(crate) ns: Option<LitStr>,
    pub(crate) event: Option<LitStr>,
    pub(crate) method: ImplItemFn,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = parse_hooks_args(attr)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    if let Some((_, path, _)) = &block.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "#[hooks] goes on an inherent `impl Type { ... }` block",
        ));
    }
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };

    let mut marked = Vec::new();
    let mut init = None;
    for item in &block.items {
        let ImplItem::Fn(method) = item else { continue };
        match classify(method) {
            Ok(Some(m)) => marked.push(m),
            Ok(None) => {}
            Err(e) => push(e),
        }
        if method.sig.ident == "init" {
            match init_state(method) {
                Ok(types) => init = Some(types),
                Err(e) => push(e),
            }
        }
    }
    for m in &marked {
        if let Err(e) = check_method(&m.method, m.kind) {
            push(e);
        }
    }
    let mut seen = HashSet::new();
    for m in marked.iter().filter(|m| m.kind == "event") {
        let event = m.event.as_ref().expect("events have names");
        let ns = m.ns.as_ref().map_or("/".to_owned(), LitStr::value);
        if !seen.insert((ns.clone(), event.value())) {
            push(syn::Error::new_spanned(
                event,
                format!(
                    "event `{}` is registered twice in namespace `{ns}`",
                    event.value()
                ),
            ));
        }
    }

    let state = args.state.or(init.clone().flatten());
    let Some(state) = state else {
        push(syn::Error::new(
            Span::call_site(),
            "#[hooks] cannot tell the app state type: add `#[hooks(state = YourState)]` or an \
             `async fn init(&self, cx: &mut InitContext<YourState>) -> Result<(), HookError>`",
        ));
        return Err(errors.expect("just pushed"));
    };
    if let Some(e) = errors {
        return Err(e);
    }

    let self_ty = block.self_ty.clone();
    let name = self_ty.to_token_stream().to_string().replace(' ', "");
    let routes = marked
        .iter()
        .filter(|m| m.kind == "event")
        .map(|m| route(m, &state));
    let uses = marked
        .iter()
        .filter(|m| m.kind != "event")
        .filter_map(|m| m.ns.as_ref())
        .map(|ns| quote!(routes.uses(#ns);));
    let init_fn = init.is_some().then(|| {
        quote! {
            async fn init(&self, cx: &mut ::iostack::InitContext<#state>) -> ::std::result::Result<(), ::iostack::HookError> {
                <#self_ty>::init(self, cx).await
            }
        }
    });
    let connection = crate::lifecycle::calls(&marked, "on_connection");
    let disconnect = crate::lifecycle::calls(&marked, "on_disconnect");
    let shutdown = crate::lifecycle::calls(&marked, "on_shutdown");
    strip_hook_attributes(&mut block);

    Ok(quote! {
        #block

        #[::iostack::async_trait]
        impl ::iostack::Hooks<#state> for #self_ty {
            fn name(&self) -> &str {
                #name
            }

            #[allow(unused_variables)]
            fn routes(self: ::std::sync::Arc<Self>, routes: &mut ::iostack::HookRoutes<#state>) {
                #(#routes)*
                #(#uses)*
            }

            #init_fn

            #[allow(unused_variables)]
            async fn on_connection(&self, socket: &::iostack::extract::SocketRef) {
                #(#connection)*
            }

            #[allow(unused_variables)]
            async fn on_disconnect(&self, socket: &::iostack::extract::SocketRef, reason: ::iostack::extract::DisconnectReason) {
                #(#disconnect)*
            }

            #[allow(unused_variables)]
            async fn on_shutdown(&self, io: &::iostack::Io) {
                #(#shutdown)*
            }
        }
    })
}

/// Which of our attributes a method carries, if any; typos of the lifecycle ones are errors.
fn classify(method: &ImplItemFn) -> syn::Result<Option<Marked>> {
    let mut found: Option<Marked> = None;
    for attr in &method.attrs {
        let Some(ident) = attr.path().get_ident().map(ToString::to_string) else {
            continue;
        };
        let kind = match ident.as_str() {
            "event" => "event",
            "on_connection" => "on_connection",
            "on_disconnect" => "on_disconnect",
            "on_shutdown" => "on_shutdown",
            other if other.starts_with("on_") => {
                return Err(syn::Error::new_spanned(
                    attr,
                    format!(
                        "unknown hook attribute `#[{other}]`: expected one of #[event(\"name\")], #[on_connection], #[on_disconnect], #[on_shutdown]"
                    ),
                ));
            }
            _ => continue,
        };
        if found.is_some() {
            return Err(syn::Error::new_spanned(
                attr,
                "a method takes one hook attribute",
            ));
        }
        let args = parse_method_args(attr, kind, kind == "event")?;
        if kind == "on_shutdown" && args.ns.is_some() {
            return Err(syn::Error::new_spanned(
                attr,
                "#[on_shutdown] takes no namespace",
            ));
        }
        found = Some(Marked {
            kind,
            ns: args.ns,
            event: args.event,
            method: method.clone(),
        });
    }
    Ok(found)
}

/// Hook methods are `async` and take `&self`.
fn check_method(method: &ImplItemFn, kind: &str) -> syn::Result<()> {
    if method.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            method.sig.fn_token,
            format!("#[{kind}] methods must be `async`"),
        ));
    }
    match method.sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => Ok(()),
        Some(other) => Err(syn::Error::new_spanned(
            other,
            format!("#[{kind}] methods take `&self` first"),
        )),
        None => Err(syn::Error::new_spanned(
            &method.sig,
            format!("#[{kind}] methods take `&self` first"),
        )),
    }
}

/// The state type of `init(&self, cx: &mut InitContext<S>)`.
fn init_state(method: &ImplItemFn) -> syn::Result<Option<Type>> {
    let wrong = || {
        syn::Error::new_spanned(
            &method.sig,
            "`init` must be `async fn init(&self, cx: &mut InitContext<State>) -> Result<(), HookError>`",
        )
    };
    check_method(method, "init").map_err(|_| wrong())?;
    let inputs: Vec<_> = method.sig.inputs.iter().skip(1).collect();
    let [FnArg::Typed(cx)] = inputs.as_slice() else {
        return Err(wrong());
    };
    let Type::Reference(reference) = &*cx.ty else {
        return Err(wrong());
    };
    if reference.mutability.is_none() || matches!(method.sig.output, syn::ReturnType::Default) {
        return Err(wrong());
    }
    let Type::Path(path) = &*reference.elem else {
        return Err(wrong());
    };
    let last = path.path.segments.last().ok_or_else(wrong)?;
    if last.ident != "InitContext" {
        return Err(wrong());
    }
    let syn::PathArguments::AngleBracketed(generics) = &last.arguments else {
        return Err(wrong());
    };
    Ok(generics.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }))
}

/// Registers one `#[event]` method.
fn route(m: &Marked, state: &Type) -> TokenStream {
    let method = &m.method.sig.ident;
    let event = m.event.as_ref().expect("events have names");
    let ns = m.ns.as_ref().map_or("/".to_owned(), LitStr::value);
    let types: Vec<&Type> = typed_args(&m.method).collect();
    let idents: Vec<_> = (0..types.len())
        .map(|i| format_ident!("__arg{}", i))
        .collect();
    let asserts = types.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            {
                fn __iostack_extractor<__T: ::iostack::FromEvent<#state>>() {}
                __iostack_extractor::<#ty>();
            }
        }
    });
    quote! {
        #(#asserts)*
        {
            let this = ::std::clone::Clone::clone(&self);
            routes.on(#ns, #event, move |#(#idents: #types),*| {
                let this = ::std::clone::Clone::clone(&this);
                async move { this.#method(#(#idents),*).await }
            });
        }
    }
}

pub(crate) fn typed_args(method: &ImplItemFn) -> impl Iterator<Item = &Type> {
    method.sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Typed(t) => Some(&*t.ty),
        FnArg::Receiver(_) => None,
    })
}

/// Removes our attributes from the methods, so the block compiles as plain Rust.
pub(crate) fn strip_hook_attributes(block: &mut ItemImpl) {
    for item in &mut block.items {
        if let ImplItem::Fn(method) = item {
            method.attrs.retain(|a| {
                let name = a
                    .path()
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                // Unknown `on_*` attributes are reported as errors; dropping them avoids a second error.
                name != "event" && !LIFECYCLE.contains(&name.as_str()) && !name.starts_with("on_")
            });
        }
    }
}
