//! The benchmark's in-process tools (see `docs/PERFORMANCE.md`, written by
//! `infra/scripts/bench.sh`).
//!
//! - `counting`: a store backend that logs every call in order, so a flow's store calls can be
//!   listed, not only counted.
//! - `lambdas`: each function as its own instance (own store handle and key cache), as Lambda
//!   runs them, and an in-process browser that walks the real pages.
//! - `flows`: the measured flows and their store-call budgets.
//!
//! Not for: timing anything in process (latency is measured over HTTP by the bench script), or
//! asserting budgets in the test suite (the tests hold their own small budget checks).

pub mod counting;
pub mod flows;
pub mod lambdas;
