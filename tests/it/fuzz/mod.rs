//! Bad input: the catalog parser and the parsers of Azure's answers get arbitrary and
//! mutated input. Nothing panics, and every rejection is an error that says where (catalog:
//! line and column) or what was being read (Azure: the resource or request).
//!
//! Bounded for `cargo test` (64 cases per property); `PROPTEST_CASES=10000 cargo test
//! --release --test it fuzz::` runs the long version.

mod arm;
mod catalog;

use proptest::test_runner::Config;

/// Cases per property: `PROPTEST_CASES` when set, else a bound that keeps `cargo test` quick.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    Config {
        cases,
        // Shrinking re-runs many cases; the first failure is printed with its input anyway.
        max_shrink_iters: 256,
        // No regression files in the source tree: a failure prints its input.
        failure_persistence: None,
        ..Config::default()
    }
}
