//! Configuration from environment variables, read once at start-up.
//!
//! A missing or malformed value stops start-up with a [`ConfigError`] naming the variable and the
//! form it expects. The README's configuration table lists every variable here.

use std::path::PathBuf;

use url::Url;

use crate::env::ConfigError;
use crate::env::{DURATION, parse_duration, parse_public_url};
use crate::tokens::lifetimes::Lifetimes;

/// Which storage backend to use.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    /// redb file on local disk (the dev server's default).
    Embedded { path: PathBuf },
    /// DynamoDB; `endpoint` points at an emulator instead of AWS.
    Dynamo { prefix: String, endpoint: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The public base URL: the issuer, and the base of every endpoint. `None` only in Lambda,
    /// where API Gateway's trusted `requestContext.domainName` stands in.
    pub public_url: Option<Url>,
    pub store: StoreConfig,
    pub lifetimes: Lifetimes,
    /// Browser origins allowed to call `/mcp` (requests with no `Origin` are always allowed).
    pub allowed_origins: Vec<String>,
    /// Shown to users in the protected resource metadata and on the consent page.
    pub resource_name: String,
    /// Client registrations allowed per source address (per /64 for IPv6) per
    /// `registration_window` (`REGISTRATIONS_PER_ADDRESS`).
    pub registrations_per_address: u64,
    /// The per-address limit's fixed window, in seconds (`REGISTRATION_WINDOW`).
    pub registration_window: i64,
    /// Client registrations allowed per clock hour across all addresses
    /// (`REGISTRATIONS_GLOBAL_PER_HOUR`).
    pub registrations_global_per_hour: u64,
    /// How long a registered client lives until a user first approves it
    /// (`UNCONFIRMED_CLIENT_TTL`; see `crate::clients::confirm`).
    pub unconfirmed_client_ttl: i64,
    /// Structured JSON logs (Lambda) or readable text (local).
    pub json_logs: bool,
    /// Upstream sign-in providers shown on the login page (see `crate::upstream::config`).
    pub providers: Vec<crate::upstream::ProviderConfig>,
    /// Serve the MCP conformance suite's fixture tools, resources and prompts as well
    /// (the dev server's `conformance-fixtures` crate); off unless `MCP_CONFORMANCE_FIXTURES` says so.
    /// A Lambda refuses to start with it on (`app::run_lambda`).
    pub conformance_fixtures: bool,
    /// Accept client metadata documents served over http from loopback (local development).
    pub cimd_allow_loopback: bool,
    /// Where verification codes and reset links are mailed.
    pub mail: MailConfig,
    /// Who may create an account (see `crate::accounts::policy`).
    pub signup: crate::accounts::policy::SignupPolicy,
    /// argon2 computations allowed at once in this process (`ARGON2_CONCURRENCY`; see
    /// `crate::accounts::password::Limiter`).
    pub argon2_concurrency: usize,
    /// The KMS key that wraps signing keys at rest (`SIGNING_KEY_KMS_ID`, `KMS_ENDPOINT`; see
    /// `crate::kms`). `None`: keys stay as PEM in the store, refused in Lambda on DynamoDB.
    pub signing_key_kms: Option<KmsConfig>,
    /// User-only scopes (`scopes::ScopeInfo::user_only`, declared by the catalog's tools) that `client_credentials` tokens may carry
    /// all the same (`MACHINE_SCOPES_ALLOWED`, space-separated; none by default).
    pub machine_scopes_allowed: Vec<String>,
    /// Client ids that may call the introspection endpoint (`INTROSPECTION_CLIENTS`,
    /// comma-separated; none by default). Each must also be a confidential client.
    pub introspection_clients: Vec<String>,
}

/// Where signing keys are wrapped (see `crate::kms`).
#[derive(Debug, Clone, PartialEq)]
pub struct KmsConfig {
    /// Key id, key ARN, alias name (`alias/…`) or alias ARN.
    pub key_id: String,
    /// An emulator's URL; AWS's regional endpoint when `None`.
    pub endpoint: Option<String>,
}

/// Which mailer sends verification codes and reset links (see `crate::mail`).
#[derive(Debug, Clone, PartialEq)]
pub enum MailConfig {
    /// Files in a local folder, echoed to the console (refused in Lambda).
    Outbox { dir: PathBuf, from: String },
    /// Amazon SES from a verified sender identity; `endpoint` points at an emulator.
    Ses { from: String, endpoint: Option<String> },
    /// No mail (functions that never send any).
    Disabled,
}

impl MailConfig {
    /// The sender address messages carry.
    pub fn from(&self) -> &str {
        match self {
            MailConfig::Outbox { from, .. } | MailConfig::Ses { from, .. } => from,
            MailConfig::Disabled => "",
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads configuration through `get`, so tests can supply their own variables.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let err = |var: &'static str, expected: &'static str, got: &str| ConfigError {
            var,
            expected,
            got: got.to_owned(),
        };
        let duration = |var: &'static str, default: i64| -> Result<i64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => parse_duration(&v).ok_or_else(|| err(var, DURATION, &v)),
            }
        };

        let public_url = match get("PUBLIC_URL") {
            // An origin only: the endpoints live at fixed root paths (`/.well-known/…`, `/mcp`), and
            // RFC 9728 would put a path-prefixed resource's metadata at another URL than ours.
            Some(v) => Some(parse_public_url(&v).filter(|u| u.path() == "/").ok_or_else(|| {
                err(
                    "PUBLIC_URL",
                    "an http(s) origin with no path, query or fragment, e.g. https://mcp.example.com",
                    &v,
                )
            })?),
            None if in_lambda => None,
            None => Some(Url::parse("http://localhost:3000").expect("constant URL")),
        };

        let store = match get("STORE").as_deref().unwrap_or("embedded") {
            "embedded" if in_lambda => {
                return Err(err(
                    "STORE",
                    "dynamodb in Lambda (a Lambda's disk is neither shared nor durable)",
                    "embedded",
                ));
            }
            "embedded" => StoreConfig::Embedded {
                path: get("STORE_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".data/mcp-oauth.redb")),
            },
            "dynamodb" => StoreConfig::Dynamo {
                prefix: get("TABLE_PREFIX").unwrap_or_else(|| "mcp-oauth-".to_owned()),
                endpoint: match get("DYNAMODB_ENDPOINT") {
                    Some(v) if parse_public_url(&v).is_none() => {
                        return Err(err(
                            "DYNAMODB_ENDPOINT",
                            "an http(s) URL such as http://127.0.0.1:8000",
                            &v,
                        ));
                    }
                    other => other,
                },
            },
            other => return Err(err("STORE", "embedded or dynamodb", other)),
        };

        let lifetimes = Lifetimes {
            access_token: duration("ACCESS_TOKEN_TTL", 3600)?,
            auth_code: duration("AUTH_CODE_TTL", 60)?,
            refresh_token: duration("REFRESH_TOKEN_TTL", 30 * 86_400)?,
            grant: duration("GRANT_TTL", 90 * 86_400)?,
            session: duration("SESSION_TTL", 86_400)?,
            refresh_grace: duration("REFRESH_GRACE", 30)?,
            key_rotation: duration("KEY_ROTATION_AGE", 30 * 86_400)?,
            revocation_window: match get("REVOCATION_WINDOW").as_deref() {
                Some("0") => 0,
                _ => duration("REVOCATION_WINDOW", 60)?,
            },
            consent: duration("CONSENT_TTL", 90 * 86_400)?,
        };

        let allowed_origins = match get("ALLOWED_ORIGINS") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| {
                    parse_public_url(o)
                        .filter(|u| u.path() == "/")
                        .map(|u| u.origin().ascii_serialization())
                        .ok_or_else(|| {
                            err(
                                "ALLOWED_ORIGINS",
                                "comma-separated origins such as https://app.example.com",
                                o,
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };

        let count = |var: &'static str| -> Result<Option<u64>, ConfigError> {
            get(var)
                .map(|v| {
                    v.trim()
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| err(var, "a positive whole number", &v))
                })
                .transpose()
        };
        // `REGISTRATIONS_PER_HOUR`, the old name, still means N per address per hour.
        let (registrations_per_address, registration_window) =
            match (count("REGISTRATIONS_PER_ADDRESS")?, count("REGISTRATIONS_PER_HOUR")?) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "REGISTRATIONS_PER_HOUR",
                        "unset when REGISTRATIONS_PER_ADDRESS is set (it is the old name)",
                        "set",
                    ));
                }
                (Some(n), None) => (n, duration("REGISTRATION_WINDOW", 600)?),
                (None, Some(n)) => (n, duration("REGISTRATION_WINDOW", 3600)?),
                (None, None) => (300, duration("REGISTRATION_WINDOW", 600)?),
            };
        let registrations_global_per_hour = count("REGISTRATIONS_GLOBAL_PER_HOUR")?.unwrap_or(5000);
        let unconfirmed_client_ttl = duration("UNCONFIRMED_CLIENT_TTL", 86_400)?;
        let argon2_concurrency = count("ARGON2_CONCURRENCY")?
            .map_or(crate::accounts::password::DEFAULT_CONCURRENCY, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            });

        let cimd_allow_loopback = match get("CIMD_ALLOW_LOOPBACK").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") if in_lambda => {
                return Err(err(
                    "CIMD_ALLOW_LOOPBACK",
                    "unset in Lambda (it is for local development)",
                    "1",
                ));
            }
            Some("1" | "true") => true,
            Some(other) => return Err(err("CIMD_ALLOW_LOOPBACK", "1 or 0", other)),
        };

        let machine_scopes_allowed: Vec<String> = get("MACHINE_SCOPES_ALLOWED")
            .unwrap_or_default()
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        // Which scopes are user-only is the catalog's to say: `AppState::check` refuses the others.

        let introspection_clients: Vec<String> = get("INTROSPECTION_CLIENTS")
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();

        let json_logs = match get("LOG_FORMAT").as_deref() {
            None => in_lambda,
            Some("json") => true,
            Some("text") => false,
            Some(other) => return Err(err("LOG_FORMAT", "json or text", other)),
        };

        let conformance_fixtures = match get("MCP_CONFORMANCE_FIXTURES").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(err(
                    "MCP_CONFORMANCE_FIXTURES",
                    "1 or true (on), 0 or false (off)",
                    other,
                ));
            }
        };

        let mail = match get("MAIL").as_deref() {
            Some("outbox") if in_lambda => {
                return Err(err(
                    "MAIL",
                    "ses in Lambda (an outbox folder on a Lambda's disk reaches nobody)",
                    "outbox",
                ));
            }
            Some("none") => MailConfig::Disabled,
            Some("outbox") | None if !in_lambda => MailConfig::Outbox {
                dir: get("OUTBOX_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".data/outbox")),
                from: get("MAIL_FROM").unwrap_or_else(|| "no-reply@localhost".to_owned()),
            },
            Some("ses") | None => {
                let from = get("MAIL_FROM")
                    .filter(|f| crate::accounts::users::normalize_email(f).is_ok() || f.contains('<'))
                    .ok_or_else(|| {
                        err(
                            "MAIL_FROM",
                            "the sender address of an SES verified identity, e.g. no-reply@mcp.example.com",
                            &get("MAIL_FROM").unwrap_or_default(),
                        )
                    })?;
                let endpoint = match get("SES_ENDPOINT") {
                    Some(v) if parse_public_url(&v).is_none() => {
                        return Err(err("SES_ENDPOINT", "an http(s) URL such as http://127.0.0.1:5000", &v));
                    }
                    other => other,
                };
                MailConfig::Ses { from, endpoint }
            }
            Some(other) => return Err(err("MAIL", "outbox, ses or none", other)),
        };

        let signup = crate::accounts::policy::SignupPolicy::from_lookup(&get)?;

        let signing_key_kms = match get("SIGNING_KEY_KMS_ID").filter(|v| !v.trim().is_empty()) {
            Some(key_id) => Some(KmsConfig {
                key_id,
                endpoint: match get("KMS_ENDPOINT") {
                    Some(v) if parse_public_url(&v).is_none() => {
                        return Err(err("KMS_ENDPOINT", "an http(s) URL such as http://127.0.0.1:5000", &v));
                    }
                    other => other,
                },
            }),
            // A private key readable from the table is what this setting exists to prevent.
            None if in_lambda && matches!(store, StoreConfig::Dynamo { .. }) => {
                return Err(err(
                    "SIGNING_KEY_KMS_ID",
                    "the KMS key that wraps signing keys (key id, ARN or alias/…), required in Lambda",
                    "",
                ));
            }
            None => None,
        };

        Ok(Config {
            public_url,
            store,
            lifetimes,
            allowed_origins,
            resource_name: get("RESOURCE_NAME").unwrap_or_else(|| "MCP server".to_owned()),
            registrations_per_address,
            registration_window,
            registrations_global_per_hour,
            unconfirmed_client_ttl,
            json_logs,
            providers: crate::upstream::config::from_lookup(&get)?,
            signing_key_kms,
            conformance_fixtures,
            cimd_allow_loopback,
            mail,
            signup,
            argon2_concurrency,
            machine_scopes_allowed,
            introspection_clients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::base_str;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_serve_localhost_on_the_embedded_store() {
        let c = with(&[]).unwrap();
        assert_eq!(c.public_url.unwrap().as_str(), "http://localhost:3000/");
        assert!(matches!(c.store, StoreConfig::Embedded { .. }));
        assert_eq!(c.lifetimes.auth_code, 60);
        assert_eq!(c.lifetimes.refresh_grace, 30);
        assert_eq!(c.lifetimes.consent, 90 * 86_400);
        assert_eq!(c.argon2_concurrency, 4);
    }

    #[test]
    fn invalid_values_name_the_variable_and_expected_form() {
        let e = with(&[("ACCESS_TOKEN_TTL", "soon")]).unwrap_err();
        assert_eq!(e.var, "ACCESS_TOKEN_TTL");
        assert!(e.to_string().contains("duration"), "{e}");
        assert_eq!(with(&[("PUBLIC_URL", "ftp://x")]).unwrap_err().var, "PUBLIC_URL");
        assert_eq!(with(&[("PUBLIC_URL", "https://x/?a=b")]).unwrap_err().var, "PUBLIC_URL");
        assert_eq!(with(&[("PUBLIC_URL", "https://x/prod")]).unwrap_err().var, "PUBLIC_URL");
        assert_eq!(with(&[("STORE", "postgres")]).unwrap_err().var, "STORE");
        assert_eq!(
            with(&[("ALLOWED_ORIGINS", "https://a.example/path")]).unwrap_err().var,
            "ALLOWED_ORIGINS"
        );
        assert_eq!(
            with(&[("REGISTRATIONS_PER_HOUR", "0")]).unwrap_err().var,
            "REGISTRATIONS_PER_HOUR"
        );
    }

    #[test]
    fn registration_limits_default_to_300_per_address_per_10_minutes_and_5000_an_hour_in_all() {
        let c = with(&[]).unwrap();
        assert_eq!((c.registrations_per_address, c.registration_window), (300, 600));
        assert_eq!(c.registrations_global_per_hour, 5000);
        assert_eq!(c.unconfirmed_client_ttl, 86_400);
        let old = with(&[("REGISTRATIONS_PER_HOUR", "20")]).unwrap();
        assert_eq!(
            (old.registrations_per_address, old.registration_window),
            (20, 3600),
            "the old name keeps its meaning"
        );
        let e = with(&[("REGISTRATIONS_PER_HOUR", "20"), ("REGISTRATIONS_PER_ADDRESS", "30")]).unwrap_err();
        assert_eq!(e.var, "REGISTRATIONS_PER_HOUR");
        assert_eq!(
            with(&[("REGISTRATIONS_GLOBAL_PER_HOUR", "0")]).unwrap_err().var,
            "REGISTRATIONS_GLOBAL_PER_HOUR"
        );
        assert_eq!(
            with(&[("UNCONFIRMED_CLIENT_TTL", "soon")]).unwrap_err().var,
            "UNCONFIRMED_CLIENT_TTL"
        );
    }

    #[test]
    fn lambda_refuses_the_embedded_store_and_may_omit_the_public_url() {
        let e = with(&[("AWS_LAMBDA_FUNCTION_NAME", "f")]).unwrap_err();
        assert_eq!(e.var, "STORE");
        let e = with(&[("AWS_LAMBDA_FUNCTION_NAME", "f"), ("STORE", "dynamodb")]).unwrap_err();
        assert_eq!(e.var, "MAIL_FROM", "SES needs a sender in Lambda");
        let e = with(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("STORE", "dynamodb"),
            ("MAIL", "outbox"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "MAIL");
        let c = with(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("STORE", "dynamodb"),
            ("MAIL_FROM", "no-reply@mcp.example.com"),
            ("SIGNING_KEY_KMS_ID", "alias/signing"),
        ])
        .unwrap();
        assert!(matches!(c.mail, MailConfig::Ses { .. }));
        assert_eq!(c.public_url, None);
        assert!(c.json_logs);
    }

    #[test]
    fn conformance_fixtures_are_off_unless_switched_on() {
        assert!(!with(&[]).unwrap().conformance_fixtures);
        assert!(with(&[("MCP_CONFORMANCE_FIXTURES", "1")]).unwrap().conformance_fixtures);
        assert!(
            !with(&[("MCP_CONFORMANCE_FIXTURES", "false")])
                .unwrap()
                .conformance_fixtures
        );
        assert_eq!(
            with(&[("MCP_CONFORMANCE_FIXTURES", "yes")]).unwrap_err().var,
            "MCP_CONFORMANCE_FIXTURES"
        );
    }

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("30d"), Some(2_592_000));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("5w"), None);
    }

    #[test]
    fn public_url_drops_the_trailing_slash() {
        let u = parse_public_url("https://mcp.example.com/").unwrap();
        assert_eq!(base_str(&u), "https://mcp.example.com");
        let u = parse_public_url("https://example.com/tenant/").unwrap();
        assert_eq!(base_str(&u), "https://example.com/tenant");
    }

    #[test]
    fn lambda_on_dynamodb_refuses_to_start_without_a_kms_key_for_signing_keys() {
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("STORE", "dynamodb"),
            ("MAIL_FROM", "no-reply@mcp.example.com"),
        ];
        assert_eq!(with(&lambda).unwrap_err().var, "SIGNING_KEY_KMS_ID");
        assert_eq!(
            with(&[("STORE", "dynamodb")]).unwrap().signing_key_kms,
            None,
            "outside Lambda it is optional"
        );
        let e = with(&[("SIGNING_KEY_KMS_ID", "alias/k"), ("KMS_ENDPOINT", "nowhere")]).unwrap_err();
        assert_eq!(e.var, "KMS_ENDPOINT");
    }
}
