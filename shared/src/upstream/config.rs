//! Upstream providers from environment variables. GitHub and Google are built in; any number of
//! OpenID Connect providers are added by issuer URL. A provider appears on the sign-in page only
//! when its variables are set.
//!
//! | variables | provider |
//! |---|---|
//! | `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`, optional `GITHUB_URL`, `GITHUB_ALLOWED_ORGS` | GitHub (or GitHub Enterprise Server) |
//! | `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`, optional `GOOGLE_ALLOWED_DOMAINS` | Google (OpenID Connect, issuer `https://accounts.google.com`) |
//! | `OIDC_PROVIDERS=okta,corp` and for each id `OIDC_<ID>_ISSUER`, `OIDC_<ID>_CLIENT_ID`, `OIDC_<ID>_CLIENT_SECRET`, optional `OIDC_<ID>_NAME`, `OIDC_<ID>_SCOPES`, `OIDC_<ID>_ALLOWED_DOMAINS`, `OIDC_<ID>_EMAIL_VERIFIED` | any OpenID Connect provider |
//!
//! Every `*_CLIENT_SECRET` may instead be given as `*_CLIENT_SECRET_NAME`: the name or ARN of a
//! Secrets Manager secret, read on first use (see `secret`; `SECRETS_ENDPOINT` for an emulator).
//! In Lambda only that form is accepted, so no secret sits in an environment variable.

use std::fmt;

use url::Url;

use super::github;
use super::policy::{EmailTrust, Policy};
use super::secret::ClientSecret;
use crate::env::ConfigError;

#[derive(Clone, PartialEq)]
pub enum ProviderKind {
    GitHub,
    Oidc { issuer: Url },
}

#[derive(Clone, PartialEq)]
pub struct ProviderConfig {
    /// The id in URLs (`/oauth/callback/<id>`) and in identity records.
    pub id: String,
    /// Shown on the button: "Continue with <name>".
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub scopes: Vec<String>,
    /// Who may sign in through this provider, and when its emails count as verified.
    pub policy: Policy,
    /// GitHub's web and API addresses (github.com, or a GitHub Enterprise Server); `None` for
    /// OpenID Connect providers, whose endpoints come from discovery.
    pub github: Option<github::Urls>,
}

// Written by hand so the client secret never reaches a log line through `{:?}`.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            ProviderKind::GitHub => "github".to_owned(),
            ProviderKind::Oidc { issuer } => format!("oidc {issuer}"),
        };
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("policy", &self.policy)
            .field("github", &self.github)
            .finish()
    }
}

/// An issuer must be https, or http on a loopback host (local development and tests).
pub fn valid_issuer(s: &str) -> Option<Url> {
    let url = Url::parse(s.trim().trim_end_matches('/')).ok()?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let ok = (url.scheme() == "https" || (url.scheme() == "http" && loopback))
        && url.query().is_none()
        && url.fragment().is_none();
    ok.then_some(url)
}

fn err(var: &'static str, expected: &'static str, got: &str) -> ConfigError {
    ConfigError {
        var,
        expected,
        got: got.to_owned(),
    }
}

/// Leaks a variable name built at run time, so errors can name it like the fixed ones. Only
/// called at start-up, once per configured provider.
fn var_name(id: &str, suffix: &str) -> &'static str {
    Box::leak(format!("OIDC_{}_{suffix}", id.to_uppercase().replace('-', "_")).into_boxed_str())
}

/// A client id and its secret, given as `<secret_var>` (a value) or `<secret_var>_NAME` (a
/// Secrets Manager secret); in Lambda only the latter.
fn pair(
    get: &impl Fn(&str) -> Option<String>,
    id_var: &'static str,
    secret_var: &'static str,
) -> Result<Option<(String, ClientSecret)>, ConfigError> {
    let name_var: &'static str = Box::leak(format!("{secret_var}_NAME").into_boxed_str());
    let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let secret = match (get(secret_var), get(name_var)) {
        (Some(_), Some(_)) => return Err(err(secret_var, "unset when its _NAME form is set", "")),
        // An environment variable is readable by whoever can read the function's configuration.
        (Some(_), None) if in_lambda => {
            return Err(err(
                secret_var,
                "unset in Lambda: give the secret's name or ARN in its _NAME form",
                "",
            ));
        }
        (Some(v), None) => Some(ClientSecret::Value(v)),
        (None, Some(name)) => Some(ClientSecret::Stored {
            name,
            endpoint: get("SECRETS_ENDPOINT"),
        }),
        (None, None) => None,
    };
    match (get(id_var), secret) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(err(secret_var, "set together with its client id", "")),
        (None, Some(_)) => Err(err(id_var, "set together with its client secret", "")),
    }
}

fn scopes(raw: Option<String>, default: &str) -> Vec<String> {
    raw.as_deref()
        .unwrap_or(default)
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A comma-separated list, each entry trimmed, lower-cased and checked by `valid`.
fn list(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    expected: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for entry in get(var)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !valid(entry) {
            return Err(err(var, expected, entry));
        }
        out.push(entry.to_ascii_lowercase());
    }
    Ok(out)
}

/// A GitHub organisation login: letters, digits and '-', at most 39 characters (GitHub's rule).
/// Safe to put in a URL path as it is.
fn valid_org(s: &str) -> bool {
    (1..=39).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A DNS domain such as `example.com`.
fn valid_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn domains(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<Vec<String>, ConfigError> {
    list(
        get,
        var,
        "comma-separated domains, e.g. example.com,example.org",
        valid_domain,
    )
}

/// `OIDC_<ID>_EMAIL_VERIFIED`; unset, Microsoft Entra ID issuers get `xms_edov` (Entra never sends
/// `email_verified`, so `claim` would refuse every sign-in, and `always` would trust addresses
/// any tenant's administrator can type in) and every other issuer `claim`.
fn email_trust(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    issuer: &Url,
) -> Result<EmailTrust, ConfigError> {
    match get(var) {
        Some(raw) => EmailTrust::parse(&raw).ok_or_else(|| err(var, "claim, always or xms_edov", &raw)),
        None if issuer.host_str() == Some("login.microsoftonline.com") => Ok(EmailTrust::XmsEdov),
        None => Ok(EmailTrust::Claim),
    }
}

/// Every configured provider, in button order: GitHub, Google, then `OIDC_PROVIDERS` in order.
pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out = Vec::new();
    if let Some((client_id, client_secret)) = pair(get, "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET")? {
        let raw_url = get("GITHUB_URL").unwrap_or_else(|| github::DEFAULT_URL.to_owned());
        let web = valid_issuer(&raw_url).ok_or_else(|| {
            err(
                "GITHUB_URL",
                "https://github.com or a GitHub Enterprise Server's https URL (http only on loopback)",
                &raw_url,
            )
        })?;
        let allowed_orgs = list(
            get,
            "GITHUB_ALLOWED_ORGS",
            "comma-separated GitHub organisation logins",
            valid_org,
        )?;
        // read:user for the id, user:email for the verified address, read:org to see private
        // organisation memberships (without it GitHub shows only public ones).
        let default_scopes = if allowed_orgs.is_empty() {
            "read:user user:email"
        } else {
            "read:user user:email read:org"
        };
        out.push(ProviderConfig {
            id: "github".into(),
            name: "GitHub".into(),
            kind: ProviderKind::GitHub,
            client_id,
            client_secret,
            scopes: scopes(None, default_scopes),
            policy: Policy {
                allowed_orgs,
                ..Policy::default()
            },
            github: Some(github::Urls::new(&web)),
        });
    }
    if let Some((client_id, client_secret)) = pair(get, "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")? {
        out.push(ProviderConfig {
            id: "google".into(),
            name: "Google".into(),
            kind: ProviderKind::Oidc {
                issuer: Url::parse("https://accounts.google.com").expect("constant URL"),
            },
            client_id,
            client_secret,
            scopes: scopes(None, "openid email profile"),
            policy: Policy {
                allowed_domains: domains(get, "GOOGLE_ALLOWED_DOMAINS")?,
                // Google sends `email_verified`.
                email_trust: EmailTrust::Claim,
                ..Policy::default()
            },
            github: None,
        });
    }
    for id in get("OIDC_PROVIDERS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let valid_id = id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_id || out.iter().any(|p| p.id == id) {
            return Err(err(
                "OIDC_PROVIDERS",
                "distinct ids of lowercase letters, digits and '-', e.g. okta,corp",
                id,
            ));
        }
        let issuer_var = var_name(id, "ISSUER");
        let raw_issuer = get(issuer_var).ok_or_else(|| err(issuer_var, "the provider's issuer URL", ""))?;
        let issuer = valid_issuer(&raw_issuer)
            .ok_or_else(|| err(issuer_var, "an https issuer URL (http only on loopback)", &raw_issuer))?;
        let (client_id, client_secret) = pair(get, var_name(id, "CLIENT_ID"), var_name(id, "CLIENT_SECRET"))?
            .ok_or_else(|| {
                err(
                    var_name(id, "CLIENT_ID"),
                    "the client id registered at the provider",
                    "",
                )
            })?;
        let name = get(var_name(id, "NAME")).unwrap_or_else(|| {
            let mut c = id.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        });
        let policy = Policy {
            allowed_domains: domains(get, var_name(id, "ALLOWED_DOMAINS"))?,
            email_trust: email_trust(get, var_name(id, "EMAIL_VERIFIED"), &issuer)?,
            ..Policy::default()
        };
        out.push(ProviderConfig {
            id: id.to_owned(),
            name,
            kind: ProviderKind::Oidc { issuer },
            client_id,
            client_secret,
            scopes: scopes(get(var_name(id, "SCOPES")), "openid email profile"),
            policy,
            github: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Vec<ProviderConfig>, ConfigError> {
        from_lookup(&|k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn no_variables_mean_no_providers() {
        assert!(with(&[]).unwrap().is_empty());
    }

    #[test]
    fn github_and_google_are_configured_by_their_client_credentials() {
        let p = with(&[
            ("GITHUB_CLIENT_ID", "gh"),
            ("GITHUB_CLIENT_SECRET", "s"),
            ("GOOGLE_CLIENT_ID", "go"),
            ("GOOGLE_CLIENT_SECRET", "t"),
        ])
        .unwrap();
        assert_eq!(
            p.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["github", "google"]
        );
        assert_eq!(p[0].scopes, ["read:user", "user:email"]);
        assert!(
            matches!(&p[1].kind, ProviderKind::Oidc { issuer } if issuer.as_str() == "https://accounts.google.com/")
        );
        assert!(p[1].scopes.contains(&"openid".to_owned()));
    }

    #[test]
    fn a_half_configured_provider_names_the_missing_variable() {
        assert_eq!(
            with(&[("GITHUB_CLIENT_ID", "gh")]).unwrap_err().var,
            "GITHUB_CLIENT_SECRET"
        );
        assert_eq!(with(&[("OIDC_PROVIDERS", "okta")]).unwrap_err().var, "OIDC_OKTA_ISSUER");
        let e = with(&[("OIDC_PROVIDERS", "okta"), ("OIDC_OKTA_ISSUER", "https://x.okta.com")]).unwrap_err();
        assert_eq!(e.var, "OIDC_OKTA_CLIENT_ID");
    }

    #[test]
    fn generic_oidc_providers_come_from_their_issuer() {
        let p = with(&[
            ("OIDC_PROVIDERS", "corp-sso"),
            ("OIDC_CORP_SSO_ISSUER", "https://login.corp.example/realms/main/"),
            ("OIDC_CORP_SSO_CLIENT_ID", "c"),
            ("OIDC_CORP_SSO_CLIENT_SECRET", "s"),
            ("OIDC_CORP_SSO_NAME", "Corp SSO"),
        ])
        .unwrap();
        assert_eq!(p[0].name, "Corp SSO");
        assert!(
            matches!(&p[0].kind, ProviderKind::Oidc { issuer } if issuer.as_str() == "https://login.corp.example/realms/main")
        );
    }

    #[test]
    fn plain_http_issuers_are_refused_except_on_loopback() {
        assert_eq!(
            with(&[
                ("OIDC_PROVIDERS", "x"),
                ("OIDC_X_ISSUER", "http://idp.example"),
                ("OIDC_X_CLIENT_ID", "c"),
                ("OIDC_X_CLIENT_SECRET", "s")
            ])
            .unwrap_err()
            .var,
            "OIDC_X_ISSUER"
        );
        assert!(valid_issuer("http://127.0.0.1:9000").is_some());
    }

    const GITHUB: [(&str, &str); 2] = [("GITHUB_CLIENT_ID", "gh"), ("GITHUB_CLIENT_SECRET", "s")];

    #[test]
    fn github_allowed_orgs_add_the_read_org_scope() {
        let p = with(&[GITHUB[0], GITHUB[1], ("GITHUB_ALLOWED_ORGS", "Acme-Corp, tools")]).unwrap();
        assert_eq!(p[0].policy.allowed_orgs, ["acme-corp", "tools"]);
        assert_eq!(p[0].scopes, ["read:user", "user:email", "read:org"]);
        let e = with(&[GITHUB[0], GITHUB[1], ("GITHUB_ALLOWED_ORGS", "../admin")]).unwrap_err();
        assert_eq!(e.var, "GITHUB_ALLOWED_ORGS");
    }

    #[test]
    fn github_url_defaults_to_github_com_and_names_an_enterprise_servers_api() {
        let urls = with(&GITHUB).unwrap()[0].github.clone().unwrap();
        assert_eq!(urls.authorize, "https://github.com/login/oauth/authorize");
        assert_eq!(urls.api, "https://api.github.com");
        let ghes = with(&[GITHUB[0], GITHUB[1], ("GITHUB_URL", "https://git.corp.example/")]).unwrap();
        let urls = ghes[0].github.clone().unwrap();
        assert_eq!(urls.token, "https://git.corp.example/login/oauth/access_token");
        assert_eq!(urls.api, "https://git.corp.example/api/v3");
        let e = with(&[GITHUB[0], GITHUB[1], ("GITHUB_URL", "http://git.corp.example")]).unwrap_err();
        assert_eq!(e.var, "GITHUB_URL", "plain http only on loopback");
    }

    fn oidc(issuer: &str, extra: &[(&str, &str)]) -> Result<Vec<ProviderConfig>, ConfigError> {
        let mut vars = vec![
            ("OIDC_PROVIDERS", "x"),
            ("OIDC_X_ISSUER", issuer),
            ("OIDC_X_CLIENT_ID", "c"),
            ("OIDC_X_CLIENT_SECRET", "s"),
        ];
        vars.extend_from_slice(extra);
        with(&vars)
    }

    #[test]
    fn email_trust_defaults_to_xms_edov_only_for_entra_id() {
        let entra = oidc("https://login.microsoftonline.com/tenant-id/v2.0", &[]).unwrap();
        assert_eq!(entra[0].policy.email_trust, EmailTrust::XmsEdov);
        let okta = oidc("https://acme.okta.com", &[]).unwrap();
        assert_eq!(okta[0].policy.email_trust, EmailTrust::Claim);
        let vouched = oidc("https://acme.okta.com", &[("OIDC_X_EMAIL_VERIFIED", "always")]).unwrap();
        assert_eq!(vouched[0].policy.email_trust, EmailTrust::Always);
        let e = oidc("https://acme.okta.com", &[("OIDC_X_EMAIL_VERIFIED", "yes")]).unwrap_err();
        assert_eq!(e.var, "OIDC_X_EMAIL_VERIFIED");
    }

    #[test]
    fn allowed_domains_are_checked_domains_in_lower_case() {
        let p = oidc(
            "https://acme.okta.com",
            &[("OIDC_X_ALLOWED_DOMAINS", "Example.com,example.org")],
        )
        .unwrap();
        assert_eq!(p[0].policy.allowed_domains, ["example.com", "example.org"]);
        let e = oidc("https://acme.okta.com", &[("OIDC_X_ALLOWED_DOMAINS", "not a domain")]).unwrap_err();
        assert_eq!(e.var, "OIDC_X_ALLOWED_DOMAINS");
        let g = with(&[
            ("GOOGLE_CLIENT_ID", "go"),
            ("GOOGLE_CLIENT_SECRET", "t"),
            ("GOOGLE_ALLOWED_DOMAINS", "example.com"),
        ])
        .unwrap();
        assert_eq!(g[0].policy.allowed_domains, ["example.com"]);
    }

    #[test]
    fn in_lambda_a_client_secret_is_named_in_secrets_manager_never_given_as_a_value() {
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "f");
        let e = with(&[lambda, ("GITHUB_CLIENT_ID", "gh"), ("GITHUB_CLIENT_SECRET", "s")]).unwrap_err();
        assert_eq!(e.var, "GITHUB_CLIENT_SECRET");
        let p = with(&[
            lambda,
            ("GITHUB_CLIENT_ID", "gh"),
            ("GITHUB_CLIENT_SECRET_NAME", "mcp-oauth/github"),
        ])
        .unwrap();
        assert_eq!(
            p[0].client_secret,
            ClientSecret::Stored {
                name: "mcp-oauth/github".into(),
                endpoint: None
            }
        );
        let both = with(&[
            ("GOOGLE_CLIENT_ID", "go"),
            ("GOOGLE_CLIENT_SECRET", "t"),
            ("GOOGLE_CLIENT_SECRET_NAME", "n"),
        ]);
        assert_eq!(both.unwrap_err().var, "GOOGLE_CLIENT_SECRET");
        let e = with(&[("GOOGLE_CLIENT_SECRET_NAME", "n")]).unwrap_err();
        assert_eq!(e.var, "GOOGLE_CLIENT_ID", "a secret name without its client id");
    }

    #[test]
    fn debug_output_never_shows_the_client_secret() {
        let p = with(&[("GITHUB_CLIENT_ID", "gh"), ("GITHUB_CLIENT_SECRET", "very-secret")]).unwrap();
        assert!(!format!("{p:?}").contains("very-secret"));
    }
}
