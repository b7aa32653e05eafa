//! Upstream providers from environment variables. GitHub and Google are built in; any number of
//! OpenID Connect providers are added by issuer URL. A provider appears on the sign-in page only
//! when its variables are set.
//!
//! | variables | provider |
//! |---|---|
//! | `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET` | GitHub |
//! | `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET` | Google (OpenID Connect, issuer `https://accounts.google.com`) |
//! | `OIDC_PROVIDERS=okta,corp` and for each id `OIDC_<ID>_ISSUER`, `OIDC_<ID>_CLIENT_ID`, `OIDC_<ID>_CLIENT_SECRET`, optional `OIDC_<ID>_NAME`, `OIDC_<ID>_SCOPES` | any OpenID Connect provider |

use std::fmt;

use url::Url;

use crate::config::ConfigError;

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
    pub client_secret: String,
    pub scopes: Vec<String>,
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
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
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

fn pair(
    get: &impl Fn(&str) -> Option<String>,
    id_var: &'static str,
    secret_var: &'static str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (get(id_var), get(secret_var)) {
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

/// Every configured provider, in button order: GitHub, Google, then `OIDC_PROVIDERS` in order.
pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out = Vec::new();
    if let Some((client_id, client_secret)) = pair(get, "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET")? {
        out.push(ProviderConfig {
            id: "github".into(),
            name: "GitHub".into(),
            kind: ProviderKind::GitHub,
            client_id,
            client_secret,
            // read:user for the id, user:email for the verified address.
            scopes: scopes(None, "read:user user:email"),
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
        out.push(ProviderConfig {
            id: id.to_owned(),
            name,
            kind: ProviderKind::Oidc { issuer },
            client_id,
            client_secret,
            scopes: scopes(get(var_name(id, "SCOPES")), "openid email profile"),
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

    #[test]
    fn debug_output_never_shows_the_client_secret() {
        let p = with(&[("GITHUB_CLIENT_ID", "gh"), ("GITHUB_CLIENT_SECRET", "very-secret")]).unwrap();
        assert!(!format!("{p:?}").contains("very-secret"));
    }
}
