//! Typed values read from environment variables: the start-up error that names a variable and the
//! form it expects, durations and public URLs. Infrastructure: the configuration of each layer
//! (`config`, `accounts::policy`, `upstream::config`) builds on it.

use url::Url;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration: {var} must be {expected}; got {got:?}")]
pub struct ConfigError {
    pub var: &'static str,
    pub expected: &'static str,
    pub got: String,
}

pub const DURATION: &str = "a duration in seconds, or with a unit: 90, 90s, 15m, 12h, 30d";

/// Parses `90`, `90s`, `15m`, `12h`, `30d`.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = digits.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale).filter(|v| *v > 0)
}

/// A public base URL: http(s), a host, no query or fragment, no trailing slash.
pub fn parse_public_url(s: &str) -> Option<Url> {
    let trimmed = s.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then_some(url)
}

/// A base URL's text form without the trailing slash `Url` adds to an empty path.
pub fn base_str(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}
