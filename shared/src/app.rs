//! What every handler shares ([`AppState`]), how it is built from configuration, and the two hosts
//! that serve a function's router: Lambda ([`run_lambda`]) and a local listener (the dev server).
//!
//! The state carries the deployment's catalog (`mcp::catalog`), which every function's `main`
//! passes in: the MCP router serves it, and the scope list of discovery, consent and the token
//! endpoint is derived from it (docs/ARCHITECTURE.md, "Tools and the catalog").

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, MailConfig, StoreConfig};
use crate::keys::{KeyRing, Wrapping};
use crate::kms::Kms;
#[cfg(feature = "ses")]
use crate::mail::Ses;
use crate::mail::{Disabled, Outbox, SharedMailer};
use crate::mcp::catalog::Catalog;
use crate::scopes::Scopes;
use crate::store::dynamo::DynamoStore;
#[cfg(feature = "embedded")]
use crate::store::embedded::EmbeddedStore;
use crate::store::{Store, StoreError};
use crate::urls::Urls;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: KeyRing,
    /// Sends verification codes and reset links.
    pub mailer: SharedMailer,
    /// What this instance remembers of grant liveness (see `tokens::liveness`).
    pub liveness: Arc<crate::tokens::liveness::Liveness>,
    /// The tools, resources and prompts this deployment serves, and the scopes they declare.
    pub catalog: Arc<Catalog>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::env::ConfigError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("STORE=embedded: this build has no embedded store (the dev server has it)")]
    NoEmbeddedStore,
    #[error("MAIL=ses: this function is built without SES (only the functions that send mail have it)")]
    NoSes,
    /// A setting that does not fit the catalog, or one a Lambda refuses.
    #[error("{0}")]
    Refused(String),
}

impl AppState {
    /// Wires configuration and a store together, with the outbox as mailer unless SES is
    /// configured, in which case use [`AppState::from_config`] (SES needs an async client).
    pub fn new(config: Config, store: Store) -> Self {
        let mailer: SharedMailer = match &config.mail {
            MailConfig::Outbox { dir, .. } => Arc::new(Outbox::new(dir.clone(), !config.json_logs)),
            // SES needs an async client: `from_config` connects it; here nothing is mailed.
            MailConfig::Ses { .. } | MailConfig::Disabled => Arc::new(Disabled),
        };
        Self::with_mailer(config, store, mailer)
    }

    /// Wires configuration, a store and a mailer together.
    pub fn with_mailer(config: Config, store: Store, mailer: SharedMailer) -> Self {
        crate::accounts::password::set_concurrency(config.argon2_concurrency);
        let keys = KeyRing::new(
            store.clone(),
            config.lifetimes.key_rotation,
            config.lifetimes.access_token,
        );
        let liveness = Arc::new(crate::tokens::liveness::Liveness::new(
            config.lifetimes.revocation_window,
        ));
        AppState {
            config: Arc::new(config),
            store,
            keys,
            mailer,
            liveness,
            catalog: Arc::new(Catalog::new()),
        }
    }

    /// The state serving `catalog` (the state starts with an empty one).
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Arc::new(catalog);
        self
    }

    /// The resource's scopes, as the catalog declares them.
    pub fn scopes(&self) -> &Scopes {
        self.catalog.scopes()
    }

    /// Checks what configuration says against the catalog: `MACHINE_SCOPES_ALLOWED` may name only
    /// the user-only scopes some tool declares.
    pub fn check(&self) -> Result<(), StartError> {
        self.scopes()
            .check_machine_allowed(&self.config.machine_scopes_allowed)
            .map_err(StartError::Refused)
    }

    /// Opens the configured backend. For DynamoDB nothing is called yet: the SDK connects lazily,
    /// so a cold start pays no round trip here.
    pub async fn from_config(config: Config, clock: Clock) -> Result<Self, StartError> {
        let store = match &config.store {
            #[cfg(feature = "embedded")]
            StoreConfig::Embedded { path } => Store::new(EmbeddedStore::open(path, clock)?),
            // A build without the redb backend (every Lambda) cannot open it; Lambda's
            // configuration refuses STORE=embedded before this.
            #[cfg(not(feature = "embedded"))]
            StoreConfig::Embedded { .. } => return Err(StartError::NoEmbeddedStore),
            StoreConfig::Dynamo { prefix, endpoint } => {
                Store::new(DynamoStore::connect(endpoint.as_deref(), prefix, clock).await)
            }
        };
        let mailer: SharedMailer = match &config.mail {
            #[cfg(feature = "ses")]
            MailConfig::Ses { from, endpoint } => Arc::new(Ses::connect(from, endpoint.as_deref()).await),
            // Only the functions that mail are built with SES; the template sets MAIL=ses on
            // those alone.
            #[cfg(not(feature = "ses"))]
            MailConfig::Ses { .. } => return Err(StartError::NoSes),
            MailConfig::Outbox { dir, .. } => Arc::new(Outbox::new(dir.clone(), !config.json_logs)),
            MailConfig::Disabled => Arc::new(Disabled),
        };
        let wrapping = match &config.signing_key_kms {
            Some(k) => Wrapping::Kms(Kms::connect(&k.key_id, k.endpoint.as_deref()).await),
            None => Wrapping::None,
        };
        let mut state = AppState::with_mailer(config, store, mailer);
        state.keys = state.keys.with_wrapping(wrapping);
        Ok(state)
    }
}

/// `RUST_LOG` as per-target levels (`info`, `warn,mcp_oauth=debug`), or `default` when unset
/// or unreadable. A `Targets` filter rather than `EnvFilter`: the same directives save for span
/// and field filters, without the regex engine (about 300 KiB of every function's binary).
pub fn log_filter(default: &str) -> tracing_subscriber::filter::Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| default.parse().unwrap_or_default())
}

/// Starts logging: JSON lines in Lambda, readable text locally. `RUST_LOG` filters.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let registry = tracing_subscriber::registry().with(log_filter("info"));
    let _ = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .without_time(),
            )
            .try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    };
}

/// A function's routes as its Lambda serves them: with the 404 and 405 fallbacks.
pub fn function(routes: fn(AppState) -> axum::Router, state: AppState) -> axum::Router {
    crate::http::with_fallbacks(routes(state))
}

/// Settings only the dev server honours. The conformance fixtures live in the dev server's own
/// crate; a Lambda cannot serve them, so the switch that asks for them is a mistake to refuse, not
/// to ignore.
pub fn refuse_dev_switches(config: &Config) -> Result<(), StartError> {
    if config.conformance_fixtures {
        return Err(StartError::Refused(
            "MCP_CONFORMANCE_FIXTURES is for the dev server (infra/devserver); a Lambda never serves the fixtures"
                .into(),
        ));
    }
    Ok(())
}

/// The whole `main` of a Lambda function: configuration, logging, store, then serve `routes` with
/// the deployment's `catalog`.
pub async fn run_lambda(routes: fn(AppState) -> axum::Router, catalog: Catalog) -> Result<(), lambda_http::Error> {
    let config = Config::from_env()?;
    init_tracing(config.json_logs);
    refuse_dev_switches(&config)?;
    let state = AppState::from_config(config, Clock::system())
        .await?
        .with_catalog(catalog);
    state.check()?;
    lambda_http::run(function(routes, state)).await
}

/// A request's public URLs: `PUBLIC_URL`, or in Lambda without it API Gateway's trusted
/// `requestContext.domainName` (see `urls`).
impl axum::extract::FromRequestParts<AppState> for Urls {
    type Rejection = crate::http::ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.config.public_url {
            return Ok(Urls::new(url));
        }
        use lambda_http::request::RequestContext;
        let domain = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(c)) => c.domain_name.clone(),
            Some(RequestContext::ApiGatewayV1(c)) => c.domain_name.clone(),
            _ => None,
        };
        domain
            .and_then(|d| crate::env::parse_public_url(&format!("https://{d}")))
            .map(|u| Urls::new(&u))
            .ok_or_else(|| {
                tracing::error!("PUBLIC_URL is unset and the request carries no API Gateway domain name");
                crate::http::ApiError::unavailable("the server's public URL is not configured")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("config")
    }

    #[test]
    fn a_lambda_refuses_the_conformance_fixtures_switch() {
        assert!(refuse_dev_switches(&config(&[])).is_ok());
        let refused = refuse_dev_switches(&config(&[("MCP_CONFORMANCE_FIXTURES", "1")])).unwrap_err();
        assert!(refused.to_string().contains("MCP_CONFORMANCE_FIXTURES"), "{refused}");
    }
}
