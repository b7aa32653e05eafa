//! Upstream client secrets: given as a value (local development), or by the name or ARN of a
//! Secrets Manager secret (`*_CLIENT_SECRET_NAME`, always in AWS), read on first use with
//! `aws-sdk-secretsmanager` `GetSecretValue` and cached for the life of the instance, so no
//! secret sits in a Lambda's environment variables.
//!
//! A stored secret is either a JSON object whose `client_secret` key holds it (the form
//! `template.yaml` documents) or the bare string.
//!
//! Not for: which providers exist (see `config`), or the sign-in flow (see `identity`).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::error::UpstreamError;

/// Where a provider's client secret comes from.
#[derive(Clone, PartialEq)]
pub enum ClientSecret {
    /// The value itself (`*_CLIENT_SECRET`): refused in Lambda.
    Value(String),
    /// A Secrets Manager secret (`*_CLIENT_SECRET_NAME`); `endpoint` points at an emulator
    /// (`SECRETS_ENDPOINT`).
    Stored { name: String, endpoint: Option<String> },
}

// Written by hand so a secret never reaches a log line through `{:?}`; a name is not secret.
impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientSecret::Value(_) => f.write_str("<redacted>"),
            ClientSecret::Stored { name, .. } => write!(f, "secretsmanager:{name}"),
        }
    }
}

/// Secrets read so far in this process, by (endpoint, name).
type Cache = Mutex<HashMap<(Option<String>, String), String>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The secret's value for `provider` (its name, for errors). A failure is logged with its cause
/// and answered as [`UpstreamError::SecretUnavailable`] (503); nothing is cached then.
pub async fn resolve(secret: &ClientSecret, provider: &str) -> Result<String, UpstreamError> {
    let (name, endpoint) = match secret {
        ClientSecret::Value(v) => return Ok(v.clone()),
        ClientSecret::Stored { name, endpoint } => (name, endpoint),
    };
    let key = (endpoint.clone(), name.clone());
    if let Some(v) = cache().lock().expect("secret cache").get(&key) {
        return Ok(v.clone());
    }
    let value = fetch(name, endpoint.as_deref()).await.map_err(|cause| {
        tracing::error!(event = "upstream_secret_unavailable", provider, secret = %name, %cause);
        UpstreamError::SecretUnavailable(provider.to_owned())
    })?;
    cache().lock().expect("secret cache").insert(key, value.clone());
    Ok(value)
}

async fn fetch(name: &str, endpoint: Option<&str>) -> Result<String, String> {
    let client = connect(endpoint).await;
    let out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let raw = out
        .secret_string()
        .ok_or_else(|| "the secret has no string value".to_owned())?;
    from_secret_string(raw).ok_or_else(|| "the secret's client_secret is empty".to_owned())
}

/// `{"client_secret": "…"}` or the bare string; `None` if that is empty.
fn from_secret_string(raw: &str) -> Option<String> {
    let value = match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(o)) => o.get("client_secret")?.as_str()?.to_owned(),
        _ => raw.to_owned(),
    };
    (!value.is_empty()).then_some(value)
}

/// A Secrets Manager client (one TLS stack, short deadlines); `endpoint` points at an emulator.
/// Public for set-up against one (creating a secret, say).
pub async fn connect(endpoint: Option<&str>) -> aws_sdk_secretsmanager::Client {
    // A sign-in button waiting on Secrets Manager holds the page; fail fast and answer 503.
    let conf = crate::aws::sdk_config(
        endpoint,
        crate::aws::deadlines(Duration::from_secs(1), Duration::from_secs(3)),
    )
    .await;
    aws_sdk_secretsmanager::Client::new(&conf)
}

/// An SDK error with its source chain (its Display alone is "dispatch failure").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_secret_is_its_client_secret_key_or_the_bare_string() {
        assert_eq!(from_secret_string(r#"{"client_secret":"abc"}"#).as_deref(), Some("abc"));
        assert_eq!(from_secret_string("abc").as_deref(), Some("abc"));
        assert_eq!(from_secret_string(r#"{"other":"abc"}"#), None);
        assert_eq!(from_secret_string(""), None);
    }

    #[test]
    fn debug_never_shows_a_secret_value() {
        assert_eq!(format!("{:?}", ClientSecret::Value("hunter2".into())), "<redacted>");
    }
}
