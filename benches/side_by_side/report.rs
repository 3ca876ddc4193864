//! Collects each variant's figures over the rounds and prints their medians as one Markdown table,
//! with the five-layer stack's ratios to bare socketioxide.

use std::{collections::BTreeMap, fmt::Write};

use crate::{
    BURST, BURST_CLIENTS, ECHO_CLIENTS, ECHO_SLICE, ECHO_SLICES, OVERFLOWS,
    scenarios::{Burst, Idle, STEPS},
    server::Variant,
};

/// Every sample of every metric, per variant.
#[derive(Default)]
pub(crate) struct Results {
    samples: BTreeMap<(usize, &'static str), Vec<f64>>,
}

/// The table's rows: label and how many decimals to print.
const ROWS: [(&str, usize); 18] = [
    ("baseline RSS (MiB)", 1),
    ("RSS per idle connection at 1k (KiB)", 1),
    ("RSS per idle connection at 5k (KiB)", 1),
    ("RSS per idle connection at 10k (KiB)", 1),
    ("RSS with 10k clients (MiB)", 0),
    ("RSS 10 s after all left (MiB)", 0),
    ("connects/s, first 1k", 0),
    ("connects/s, 5k→10k step", 0),
    ("handshake p99, 5k→10k step (ms)", 1),
    ("acked echo: round trips/s", 0),
    ("acked echo: p99 (ms)", 2),
    ("burst: delivered/s", 0),
    ("overflow 1000: delivered %", 1),
    ("overflow 1000: lost %", 1),
    ("overflow 1000: lost and counted by the server %", 1),
    ("overflow 3000: delivered %", 1),
    ("overflow 3000: lost %", 1),
    ("overflow 3000: lost and counted by the server %", 1),
];

/// The rows [`Results::add_echo`] fills.
const ECHO_ROWS: [&str; 2] = ["acked echo: round trips/s", "acked echo: p99 (ms)"];

impl Results {
    pub(crate) fn add(
        &mut self,
        variant: Variant,
        idle: Idle,
        burst: Burst,
        overflows: [Burst; 2],
    ) {
        let shares = |o: Burst| {
            let percent = |n: u64| 100.0 * n as f64 / o.sent as f64;
            [
                percent(o.delivered),
                percent(o.sent - o.delivered),
                o.counted.map_or(f64::NAN, percent),
            ]
        };
        let values = [
            idle.baseline_kib / 1024.0,
            idle.per_connection_kib[0],
            idle.per_connection_kib[1],
            idle.per_connection_kib[2],
            idle.with_all_kib / 1024.0,
            idle.after_release_kib / 1024.0,
            idle.first_rate,
            idle.step_rate,
            idle.step_p99_ms,
        ];
        let labels = ROWS
            .iter()
            .map(|(label, _)| *label)
            .filter(|l| !ECHO_ROWS.contains(l));
        let values = values
            .into_iter()
            .chain([burst.per_second])
            .chain(overflows.into_iter().flat_map(shares));
        for (label, value) in labels.zip(values) {
            self.push(variant, label, value);
        }
    }

    /// Adds one round of `variant`'s acked echo: each slice's round trips per second, and the p99.
    pub(crate) fn add_echo(&mut self, variant: Variant, rates: &[f64], p99_ms: f64) {
        for rate in rates {
            self.push(variant, ECHO_ROWS[0], *rate);
        }
        self.push(variant, ECHO_ROWS[1], p99_ms);
    }

    fn push(&mut self, variant: Variant, label: &'static str, value: f64) {
        self.samples
            .entry((variant as usize, label))
            .or_default()
            .push(value);
    }

    fn median(&self, variant: Variant, label: &str) -> f64 {
        let Some(samples) = self.samples.get(&(variant as usize, label)) else {
            return f64::NAN;
        };
        median(samples.iter().copied())
    }

    /// The Markdown table of medians.
    pub(crate) fn table(&self) -> String {
        let mut out = String::from("| metric |");
        for variant in Variant::ALL {
            let _ = write!(out, " {} |", variant.title());
        }
        out.push_str(" 5 layers ÷ bare |\n|---|");
        out.push_str(&"---:|".repeat(Variant::ALL.len() + 1));
        out.push('\n');
        for (label, decimals) in ROWS {
            let _ = write!(out, "| {label} |");
            for variant in Variant::ALL {
                let value = self.median(variant, label);
                if value.is_nan() {
                    out.push_str(" – |");
                } else {
                    let _ = write!(out, " {value:.decimals$} |");
                }
            }
            let ratio =
                self.median(Variant::IostackFiveLayers, label) / self.median(Variant::Bare, label);
            if ratio.is_finite() {
                let _ = writeln!(out, " {ratio:.2}× |");
            } else {
                out.push_str(" – |\n");
            }
        }
        let _ = writeln!(
            out,
            "\nidle connections opened 250 at a time up to {:?}; echo: {ECHO_CLIENTS} clients per \
             variant, every variant at once, taking turns in {ECHO_SLICES} slices of \
             {ECHO_SLICE:?} per round, median of the slices; burst: {BURST} messages to \
             {BURST_CLIENTS} clients; overflow: {OVERFLOWS:?} messages to {BURST_CLIENTS} clients",
            STEPS
        );
        out
    }
}

/// The median of `values` (NaN when there are none).
pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        n if n.is_multiple_of(2) => (sorted[mid - 1] + sorted[mid]) / 2.0,
        _ => sorted[mid],
    }
}
