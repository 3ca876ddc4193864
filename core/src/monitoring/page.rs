//! The live monitoring page: static HTML and JavaScript that poll the monitor's JSON.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{Html, IntoResponse},
    routing::get,
};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");

/// What the page may load and contact: its own origin only (the stats URL must be same-origin).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Routes serving the page at `path` and its script at `{path}/monitor.js`.
pub(super) fn router(path: &str, stats_url: &str) -> Router {
    let path = format!("/{}", path.trim_matches('/'));
    let script_url = format!("{}/monitor.js", path.trim_end_matches('/'));
    let html = PAGE
        .replace("{{STATS_URL}}", &escape_attribute(stats_url))
        .replace("{{SCRIPT_URL}}", &escape_attribute(&script_url));
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Router::new()
        .route(
            &path,
            get(move || {
                let html = html.clone();
                async move { (headers.clone(), Html(html)) }
            }),
        )
        .route(
            &script_url,
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
                    .into_response()
            }),
        )
}

/// Escapes text for a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_url_is_escaped_into_the_page() {
        assert_eq!(
            escape_attribute("/stats?a=1&b=\"x\"<"),
            "/stats?a=1&amp;b=&quot;x&quot;&lt;"
        );
    }
}
