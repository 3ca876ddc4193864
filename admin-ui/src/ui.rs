//! Serving the official UI's built files (`ui/dist` of the npm package `@socket.io/admin-ui`) from
//! a local directory.

use std::{
    path::{Path as FsPath, PathBuf},
    sync::Arc,
};

use axum::{
    Router,
    extract::{Path, Request},
    http::{HeaderValue, Uri, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// The UI's files could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the Admin UI files at {path} ({source}); install them with \
     `npm install @socket.io/admin-ui` and point at node_modules/@socket.io/admin-ui/ui/dist"
)]
pub struct UiFilesError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Routes serving the UI from `dir` under `path` (`/admin` → `/admin/`, `/admin/index.html`,
/// `/admin/js/...`); the same as `UiFiles::new(dir).router(path)`, without icons.
pub fn ui_router(path: &str, dir: impl AsRef<FsPath>) -> Result<Router, UiFilesError> {
    UiFiles::new(dir).router(path)
}

/// The UI's built files, and optionally the icon font it would load from a CDN.
///
/// Links to external CDNs (web fonts) are removed from the page, so it loads nothing from outside;
/// without [`icons`](Self::icons) the UI then shows no icon glyphs (its icon-only buttons are
/// blank but work).
#[derive(Debug, Clone)]
pub struct UiFiles {
    dir: PathBuf,
    icons: Option<PathBuf>,
}

impl UiFiles {
    /// The UI's files: `node_modules/@socket.io/admin-ui/ui/dist` after `npm install @socket.io/admin-ui`.
    pub fn new(dir: impl AsRef<FsPath>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            icons: None,
        }
    }

    /// Also serves the Material Design icon font from `dir` (the npm package `@mdi/font`, with its
    /// `css/` and `fonts/`), at `{path}/mdi/`, in place of the CDN copy the UI links to.
    pub fn icons(mut self, dir: impl AsRef<FsPath>) -> Self {
        self.icons = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Routes serving the UI under `path`.
    pub fn router(self, path: &str) -> Result<Router, UiFilesError> {
        let index_path = self.dir.join("index.html");
        let index = std::fs::read_to_string(&index_path).map_err(|source| UiFilesError {
            path: index_path,
            source,
        })?;
        let mut index = without_external_links(&index);
        if let Some(icons) = &self.icons {
            let css = icons.join(ICONS_CSS);
            std::fs::metadata(&css).map_err(|source| UiFilesError { path: css, source })?;
            index = index.replacen(
                "</head>",
                &format!("<link rel=\"stylesheet\" href=\"mdi/{ICONS_CSS}\"></head>"),
                1,
            );
        }
        let index: Arc<str> = index.into();
        let base = format!("/{}", path.trim_matches('/'));
        let files = ServeDir::new(self.dir);
        let icons = self.icons.map(ServeDir::new);
        let page = move || {
            let index = index.clone();
            async move {
                (
                    [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
                    Html(index.to_string()),
                )
                    .into_response()
            }
        };
        let slash = format!("{}/", base.trim_end_matches('/'));
        let redirect_to = slash.clone();
        Ok(Router::new()
            .route(
                &base,
                get(move || async move { Redirect::permanent(&redirect_to) }),
            )
            .route(&slash, get(page.clone()))
            .route(
                &format!("{slash}{{*file}}"),
                get(
                    move |Path(file): Path<String>, request: Request| async move {
                        if file == "index.html" {
                            return page().await;
                        }
                        match (file.strip_prefix("mdi/"), icons) {
                            (Some(icon_file), Some(icons)) => {
                                serve_file(icons, icon_file, request).await
                            }
                            _ => serve_file(files, &file, request).await,
                        }
                    },
                ),
            ))
    }
}

/// The icon stylesheet inside the `@mdi/font` package.
const ICONS_CSS: &str = "css/materialdesignicons.min.css";

async fn serve_file(files: ServeDir, file: &str, mut request: Request) -> Response {
    let Ok(uri) = format!("/{file}").parse::<Uri>() else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    *request.uri_mut() = uri;
    match files.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(e) => match e {},
    }
}

/// The page without `<link>` tags to absolute `http(s)://` addresses.
fn without_external_links(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<link") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            rest = &rest[start..];
            break;
        };
        let tag = &rest[start..start + len + 1];
        if !(tag.contains("href=\"http://") || tag.contains("href=\"https://")) {
            out.push_str(tag);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_links_are_removed_and_local_ones_kept() {
        let html = r#"<head><link rel="icon" href="favicon.png"><link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto"><link href="css/app.css" rel="stylesheet"></head>"#;
        assert_eq!(
            without_external_links(html),
            r#"<head><link rel="icon" href="favicon.png"><link href="css/app.css" rel="stylesheet"></head>"#
        );
    }
}
