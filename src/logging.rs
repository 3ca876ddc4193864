//! One call to set up logs the way a server's operators expect them.
//!
//! ```no_run
//! iostack::logging::init();
//! tracing::info!("ready");
//! ```
//!
//! - The level comes from `RUST_LOG` (default `info`).
//! - Plain text, coloured only when standard output is a terminal and `NO_COLOR` is unset: a log
//!   written to a file or a pipe carries no escape codes.
//! - `LOG_FORMAT=json` writes one JSON object per line, for log collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global `tracing` subscriber described in the [module docs](self).
///
/// Does nothing if a subscriber is already installed (tests, or a binary that set its own).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if json_requested(std::env::var("LOG_FORMAT").ok().as_deref()) {
        builder.json().try_init()
    } else {
        let color = colour_wanted(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").is_some(),
        );
        builder.with_ansi(color).try_init()
    };
    if let Err(e) = result {
        tracing::debug!("logging already set up: {e}");
    }
}

fn json_requested(format: Option<&str>) -> bool {
    format.is_some_and(|f| f.eq_ignore_ascii_case("json"))
}

fn colour_wanted(terminal: bool, no_color: bool) -> bool {
    terminal && !no_color
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, false));
        assert!(!colour_wanted(true, true));
        assert!(!colour_wanted(false, false));
    }

    #[test]
    fn json_only_when_asked() {
        assert!(json_requested(Some("json")));
        assert!(json_requested(Some("JSON")));
        assert!(!json_requested(Some("text")));
        assert!(!json_requested(None));
    }
}
