//! The line every benchmark prints for each goal of `scripts/bench.sh`'s table: tab-separated
//! `TABLE`, the measure, its figure, the baseline's, the ratio, the goal and whether it is
//! met. `scripts/bench.sh` collects these lines from every bench and prints them as one
//! table at the end. Included by path from the benches of every crate.

#![allow(dead_code)]

/// Whether the run is `scripts/bench.sh --smoke`: a few seconds, only to prove that the
/// benches still run (CI).
pub fn smoke() -> bool {
    std::env::var("AUTHDESK_BENCH_SMOKE").is_ok_and(|v| v == "1")
}

/// A goal on a ratio of this figure to its baseline: at most `max` (`<=`), or at least.
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
    /// A figure alone (no baseline), at most this many of its unit.
    ValueAtMost(f64),
    /// A figure alone, at least this many.
    ValueAtLeast(f64),
    /// Shown for information, no goal.
    None,
}

/// Prints one row. `value` and `baseline` are shown as given (with their units); `ratio` is
/// value / baseline in time or memory (so lower is better), or a rate ratio (higher is
/// better), as the goal says.
pub fn row(
    measure: &str,
    value: &str,
    baseline: &str,
    ratio: Option<f64>,
    goal: Goal,
    figure: f64,
) {
    let (goal_text, met) = match goal {
        Goal::AtMost(g) => (format!("<= {g}x"), ratio.map(|r| r <= g)),
        Goal::AtLeast(g) => (format!(">= {g}x"), ratio.map(|r| r >= g)),
        Goal::ValueAtMost(g) => (format!("<= {g}"), Some(figure <= g)),
        Goal::ValueAtLeast(g) => (format!(">= {g}"), Some(figure >= g)),
        Goal::None => ("-".into(), None),
    };
    let ratio = ratio.map_or("-".to_string(), |r| format!("{r:.2}x"));
    let met = match met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    println!("TABLE\t{measure}\t{value}\t{baseline}\t{ratio}\t{goal_text}\t{met}");
}
