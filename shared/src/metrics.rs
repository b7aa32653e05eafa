//! Operational metrics as CloudWatch Embedded Metric Format (EMF) lines: one JSON object per line
//! on stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics. No API
//! call, no extra latency, no permission beyond the log group every function already writes.
//!
//! ```ignore
//! metrics::count(Metric::GrantsIssued);
//! metrics::count_with(Metric::McpRequests, &[("Method", "tools/call"), ("Outcome", "ok")]);
//! metrics::duration(Metric::ToolLatency, 12.5, &[("Tool", "whoami")]);
//! ```
//!
//! Every line carries the namespace (`METRICS_NAMESPACE`, default `McpOAuth`) and a `Function`
//! dimension (`AWS_LAMBDA_FUNCTION_NAME`, the deployed function's name), plus the dimensions
//! given. Outside Lambda (no `AWS_LAMBDA_FUNCTION_NAME`) nothing is written: a `trace` event
//! shows what would have been. Emitting never panics and never fails the request: a write error
//! is dropped.
//!
//! Dimension values must come from a small fixed set (a method name from a list, a tool from the
//! catalog), never from user input: each distinct combination is a billed custom metric.
//!
//! Hand-written rather than a crate: EMF is one JSON line of a documented shape, which
//! `serde_json` builds in a few lines. `metrics_cloudwatch_embedded` was considered: it is an
//! exporter for the `metrics` facade (a global recorder, aggregation, flushing at the end of each
//! invocation through its own Lambda service wrapper), which is more machinery, and another
//! `lambda_http` in the tree, for what is here a `format` and a `write`.
//!
//! Not for: logs of security events (those are `tracing` events with an `event` field) or
//! anything that needs reading back.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The namespace when `METRICS_NAMESPACE` is unset or empty.
pub const DEFAULT_NAMESPACE: &str = "McpOAuth";

/// The dimension every metric carries: which Lambda function emitted it.
pub const FUNCTION_DIMENSION: &str = "Function";

/// At most this many dimensions besides `Function` (EMF allows 30 per dimension set).
const MAX_DIMENSIONS: usize = 29;

/// What is measured. The name is the CloudWatch metric name; template.yaml's alarms and
/// dashboard refer to these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// A client registered dynamically (`POST /api/oauth/register`).
    ClientsRegistered,
    /// An authorization code was issued: a user signed in, consented, and went back to the client.
    CodesIssued,
    /// An authorization code was exchanged for a new grant and its tokens.
    GrantsIssued,
    /// A refresh token was exchanged for its successor.
    TokensRefreshed,
    /// A rotated-out refresh token came back and its grant was revoked: likely token theft.
    RefreshTokenReuse,
    /// A password sign-in succeeded.
    LoginSucceeded,
    /// A password sign-in failed (wrong password, unknown email, or throttled).
    LoginFailed,
    /// An account was created.
    SignUps,
    /// One POST (or refused request) at `/mcp`, with `Method` and `Outcome` dimensions.
    McpRequests,
    /// How long a tool's own code ran, milliseconds, with a `Tool` dimension.
    ToolLatency,
    /// A tool failed or refused its arguments, with `Tool` and `Kind` dimensions.
    ToolErrors,
    /// A store call failed and the request was answered 503.
    StoreErrors,
}

/// An EMF unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::ClientsRegistered,
        Metric::CodesIssued,
        Metric::GrantsIssued,
        Metric::TokensRefreshed,
        Metric::RefreshTokenReuse,
        Metric::LoginSucceeded,
        Metric::LoginFailed,
        Metric::SignUps,
        Metric::McpRequests,
        Metric::ToolLatency,
        Metric::ToolErrors,
        Metric::StoreErrors,
    ];

    /// The CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ClientsRegistered => "ClientsRegistered",
            Metric::CodesIssued => "CodesIssued",
            Metric::GrantsIssued => "GrantsIssued",
            Metric::TokensRefreshed => "TokensRefreshed",
            Metric::RefreshTokenReuse => "RefreshTokenReuse",
            Metric::LoginSucceeded => "LoginSucceeded",
            Metric::LoginFailed => "LoginFailed",
            Metric::SignUps => "SignUps",
            Metric::McpRequests => "McpRequests",
            Metric::ToolLatency => "ToolLatency",
            Metric::ToolErrors => "ToolErrors",
            Metric::StoreErrors => "StoreErrors",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::ToolLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}

/// Where lines go: known only in Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub function: String,
}

impl Target {
    /// From environment lookups: `None` without a Lambda function name (not in Lambda).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<Target> {
        let function = get("AWS_LAMBDA_FUNCTION_NAME").filter(|f| !f.is_empty())?;
        let namespace = get("METRICS_NAMESPACE")
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        Some(Target { namespace, function })
    }
}

fn target() -> Option<&'static Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| Target::from_lookup(|k| std::env::var(k).ok()))
        .as_ref()
}

/// Adds 1 to `metric`.
pub fn count(metric: Metric) {
    emit(metric, 1.0, &[]);
}

/// Adds 1 to `metric` under the given dimensions (names fixed, values from a small set).
pub fn count_with(metric: Metric, dimensions: &[(&'static str, &str)]) {
    emit(metric, 1.0, dimensions);
}

/// Records one duration in milliseconds.
pub fn duration(metric: Metric, ms: f64, dimensions: &[(&'static str, &str)]) {
    emit(metric, ms, dimensions);
}

fn emit(metric: Metric, value: f64, dimensions: &[(&'static str, &str)]) {
    let Some(target) = target() else {
        tracing::trace!(event = "metric", metric = metric.name(), value, ?dimensions);
        return;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if let Some(mut line) = line(target, metric, value, dimensions, now_ms) {
        line.push('\n');
        // One write of the whole line, so it never interleaves with a log line; an error (a
        // closed stdout) loses one data point and nothing else.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// The EMF line (without its newline), or `None` for a value JSON cannot carry (NaN, infinity).
/// Dimensions that would clash with `Function`, `_aws`, the metric's own name or an earlier
/// dimension are dropped, as are those beyond EMF's limit.
pub fn line(
    target: &Target,
    metric: Metric,
    value: f64,
    dimensions: &[(&'static str, &str)],
    timestamp_ms: u64,
) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    let mut root = Map::new();
    let mut names = vec![Value::from(FUNCTION_DIMENSION)];
    root.insert(FUNCTION_DIMENSION.into(), Value::from(target.function.as_str()));
    for (name, dim_value) in dimensions {
        let clashes = *name == "_aws" || *name == metric.name() || root.contains_key(*name);
        if clashes || name.is_empty() || names.len() > MAX_DIMENSIONS {
            continue;
        }
        names.push(Value::from(*name));
        root.insert((*name).into(), Value::from(*dim_value));
    }
    root.insert(metric.name().into(), json!(value));
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": target.namespace,
                "Dimensions": [names],
                "Metrics": [{ "Name": metric.name(), "Unit": metric.unit().as_str() }],
            }],
        }),
    );
    Some(Value::Object(root).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            namespace: "McpOAuth".into(),
            function: "mcp-oauth-McpFunction-abc".into(),
        }
    }

    fn parse(line: &str) -> Value {
        assert!(!line.contains('\n'), "an EMF record is one line: {line}");
        serde_json::from_str(line).expect("an EMF line is JSON")
    }

    #[test]
    fn a_count_is_an_emf_record_with_namespace_function_dimension_and_unit() {
        let line = line(&target(), Metric::GrantsIssued, 1.0, &[], 1_700_000_000_123).unwrap();
        assert_eq!(
            parse(&line),
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "McpOAuth",
                        "Dimensions": [["Function"]],
                        "Metrics": [{"Name": "GrantsIssued", "Unit": "Count"}],
                    }],
                },
                "Function": "mcp-oauth-McpFunction-abc",
                "GrantsIssued": 1.0,
            })
        );
    }

    #[test]
    fn dimensions_are_declared_in_order_and_set_as_top_level_members() {
        let dims = [("Method", "tools/call"), ("Outcome", "ok")];
        let v = parse(&line(&target(), Metric::McpRequests, 1.0, &dims, 0).unwrap());
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Method", "Outcome"]])
        );
        assert_eq!(v["Method"], "tools/call");
        assert_eq!(v["Outcome"], "ok");
        assert_eq!(v["McpRequests"], 1.0);
    }

    #[test]
    fn durations_are_in_milliseconds() {
        let v = parse(&line(&target(), Metric::ToolLatency, 12.5, &[("Tool", "whoami")], 0).unwrap());
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "ToolLatency", "Unit": "Milliseconds"}])
        );
        assert_eq!(v["ToolLatency"], 12.5);
    }

    #[test]
    fn clashing_or_repeated_dimensions_are_dropped_not_overwritten() {
        let dims = [
            ("Function", "spoofed"),
            ("_aws", "x"),
            ("McpRequests", "2"),
            ("Method", "a"),
            ("Method", "b"),
            ("", "empty"),
        ];
        let v = parse(&line(&target(), Metric::McpRequests, 1.0, &dims, 0).unwrap());
        assert_eq!(v["Function"], "mcp-oauth-McpFunction-abc");
        assert_eq!(v["McpRequests"], 1.0);
        assert_eq!(v["Method"], "a");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Method"]])
        );
    }

    #[test]
    fn dimensions_beyond_the_emf_limit_are_dropped() {
        const NAMES: [&str; 40] = [
            "D00", "D01", "D02", "D03", "D04", "D05", "D06", "D07", "D08", "D09", "D10", "D11", "D12", "D13", "D14",
            "D15", "D16", "D17", "D18", "D19", "D20", "D21", "D22", "D23", "D24", "D25", "D26", "D27", "D28", "D29",
            "D30", "D31", "D32", "D33", "D34", "D35", "D36", "D37", "D38", "D39",
        ];
        let dims: Vec<(&'static str, &str)> = NAMES.iter().map(|n| (*n, "v")).collect();
        let v = parse(&line(&target(), Metric::McpRequests, 1.0, &dims, 0).unwrap());
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(declared, 30, "EMF allows 30 dimensions in a set");
    }

    #[test]
    fn a_value_json_cannot_carry_emits_nothing() {
        assert_eq!(line(&target(), Metric::ToolLatency, f64::NAN, &[], 0), None);
        assert_eq!(line(&target(), Metric::ToolLatency, f64::INFINITY, &[], 0), None);
    }

    #[test]
    fn dimension_values_are_escaped_as_json() {
        let v = parse(&line(&target(), Metric::McpRequests, 1.0, &[("Method", "a\"b\nc")], 0).unwrap());
        assert_eq!(v["Method"], "a\"b\nc");
    }

    #[test]
    fn outside_lambda_there_is_no_target() {
        assert_eq!(Target::from_lookup(|_| None), None);
        assert_eq!(
            Target::from_lookup(|k| (k == "AWS_LAMBDA_FUNCTION_NAME").then(String::new)),
            None
        );
    }

    #[test]
    fn in_lambda_the_namespace_defaults_and_can_be_set() {
        let env = |ns: Option<&'static str>| {
            move |k: &str| match k {
                "AWS_LAMBDA_FUNCTION_NAME" => Some("fn".to_owned()),
                "METRICS_NAMESPACE" => ns.map(str::to_owned),
                _ => None,
            }
        };
        assert_eq!(Target::from_lookup(env(None)).unwrap().namespace, DEFAULT_NAMESPACE);
        assert_eq!(
            Target::from_lookup(env(Some(" "))).unwrap().namespace,
            DEFAULT_NAMESPACE
        );
        let set = Target::from_lookup(env(Some("Prod/Mcp"))).unwrap();
        assert_eq!(
            set,
            Target {
                namespace: "Prod/Mcp".into(),
                function: "fn".into()
            }
        );
    }

    #[test]
    fn metric_names_are_distinct_and_emitting_outside_lambda_does_not_panic() {
        let names: std::collections::BTreeSet<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len());
        // The test binary is not in Lambda: these only trace.
        count(Metric::GrantsIssued);
        count_with(Metric::McpRequests, &[("Method", "ping"), ("Outcome", "ok")]);
        duration(Metric::ToolLatency, f64::NAN, &[("Tool", "whoami")]);
    }
}
