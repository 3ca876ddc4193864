//! [`PrometheusText`]: the text exposition format, one metric family at a time.

use std::fmt::{Display, Write as _};

/// Writes metric families in the Prometheus text format; label values are escaped.
///
/// ```
/// use iostack_core::monitoring::PrometheusText;
///
/// let mut out = PrometheusText::default();
/// out.family("app_jobs_total", "counter", "Jobs run, by queue.")
///     .sample(&[("queue", "mail \"out\"")], 3);
/// assert_eq!(
///     out.finish(),
///     "# HELP app_jobs_total Jobs run, by queue.\n# TYPE app_jobs_total counter\n\
///      app_jobs_total{queue=\"mail \\\"out\\\"\"} 3\n"
/// );
/// ```
#[derive(Debug, Default)]
pub struct PrometheusText {
    out: String,
}

/// The samples of one metric family; see [`PrometheusText::family`].
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl PrometheusText {
    /// Starts the family `name` of `kind` (`counter`, `gauge`) with its help text.
    pub fn family<'a>(&'a mut self, name: &'a str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        Family {
            out: &mut self.out,
            name,
        }
    }

    /// Appends text already in the exposition format.
    pub fn push_str(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }
}

impl Family<'_> {
    /// Writes one sample with these labels (none for an unlabelled metric).
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Display) -> &mut Self {
        let _ = write!(self.out, "{}", self.name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.out, " {value}");
        self
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
