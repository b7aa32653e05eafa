//! Notifications a request sends before its result: progress (`notifications/progress`, when the
//! request carried a `progressToken`) and log messages (`notifications/message`, at or above the
//! level the request allows). A handler emits them while it runs; they are collected here and
//! delivered in the one SSE body that ends with the result, since this server holds no stream
//! open between requests.
//!
//! Which log messages a request receives:
//! - 2026-07-28: only those at or above the request's own `_meta` `io.modelcontextprotocol/logLevel`,
//!   and none when it names no level (server/utilities/logging, "Per-request log level").
//! - 2025-03-26 to 2025-11-25: a level set by `logging/setLevel` belongs to a session, which this
//!   server does not keep, so every request gets what a client that never set one gets: `info`
//!   and above (the server's choice, as those revisions allow).
//! - Never any, when the catalog offers no `logging` capability (servers that log "MUST declare" it).
//!
//! Not for: server-to-client requests (see `mcp::input`: under 2026-07-28 they travel as
//! `InputRequiredResult`s; before it, a server without a held-open stream cannot send them).

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Number, Value, json};

/// Syslog severities (RFC 5424), least severe first, so that they compare by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    /// The minimum level requests get under the revisions whose level a session would hold.
    pub const SESSIONLESS_DEFAULT: LogLevel = LogLevel::Info;

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Default)]
struct Sent {
    messages: Vec<Value>,
    last_progress: Option<f64>,
}

/// Where a handler sends its notifications; cheap to clone, all clones share one list.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    sent: Arc<Mutex<Sent>>,
    progress_token: Option<Value>,
    min_level: Option<LogLevel>,
}

/// A JSON number, integral when the value is (progress `50` reads better than `50.0`).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
    }
}

impl Notifier {
    /// A notifier for a request that asked for progress under `progress_token` (if any) and log
    /// messages at `min_level` and above (none when `None`).
    pub fn new(progress_token: Option<Value>, min_level: Option<LogLevel>) -> Self {
        Notifier {
            sent: Arc::default(),
            progress_token,
            min_level,
        }
    }

    /// One that sends nothing: no progress token, no log level.
    pub fn silent() -> Self {
        Notifier::default()
    }

    fn sent(&self) -> MutexGuard<'_, Sent> {
        // A handler that panicked while holding the lock left a list that is still a list.
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the client asked for progress on this request.
    pub fn wants_progress(&self) -> bool {
        self.progress_token.is_some()
    }

    /// Reports progress, if the client asked for it. `progress` must grow with every call (basic
    /// utilities/progress: it "MUST increase"); a value that does not is dropped.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = &self.progress_token else { return };
        let mut sent = self.sent();
        if !progress.is_finite() || sent.last_progress.is_some_and(|last| progress <= last) {
            tracing::debug!(progress, "dropped a progress notification that does not increase");
            return;
        }
        sent.last_progress = Some(progress);
        let mut params = json!({"progressToken": token, "progress": number(progress)});
        if let Some(total) = total {
            params["total"] = number(total);
        }
        if let Some(message) = message {
            params["message"] = message.into();
        }
        sent.messages
            .push(json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": params}));
    }

    /// Whether a message at `level` would be sent.
    pub fn logs(&self, level: LogLevel) -> bool {
        self.min_level.is_some_and(|min| level >= min)
    }

    /// Sends a log message from `logger`, if the request allows `level`. `data` reaches the
    /// client: it must hold no secret, token or personal data (logging "Security").
    pub fn log(&self, level: LogLevel, logger: &str, data: Value) {
        if !self.logs(level) {
            return;
        }
        self.sent().messages.push(json!({
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": level.as_str(), "logger": logger, "data": data},
        }));
    }

    /// Everything sent so far, in order, leaving the list empty.
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(&mut self.sent().messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_needs_a_token_and_must_increase() {
        let silent = Notifier::silent();
        silent.progress(1.0, None, None);
        assert!(silent.take().is_empty());

        let n = Notifier::new(Some(json!("t1")), None);
        n.progress(0.0, Some(100.0), None);
        n.progress(50.0, Some(100.0), Some("half"));
        n.progress(50.0, Some(100.0), None);
        n.progress(25.5, None, None);
        let sent = n.take();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[0]["params"],
            json!({"progressToken": "t1", "progress": 0, "total": 100})
        );
        assert_eq!(sent[1]["params"]["message"], "half");
    }

    #[test]
    fn log_messages_below_the_minimum_level_or_without_one_are_not_sent() {
        let n = Notifier::new(None, Some(LogLevel::Warning));
        n.log(LogLevel::Info, "t", json!("quiet"));
        n.log(LogLevel::Error, "t", json!("loud"));
        let sent = n.take();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["params"],
            json!({"level": "error", "logger": "t", "data": "loud"})
        );

        let none = Notifier::new(None, None);
        none.log(LogLevel::Emergency, "t", json!("x"));
        assert!(none.take().is_empty());
    }

    #[test]
    fn levels_parse_and_order_by_severity() {
        assert_eq!(LogLevel::parse("warning"), Some(LogLevel::Warning));
        assert_eq!(LogLevel::parse("WARN"), None);
        assert!(LogLevel::Debug < LogLevel::Emergency);
    }
}
