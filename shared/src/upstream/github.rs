//! GitHub, which speaks OAuth 2.0 but not OpenID Connect: the user's id comes from `GET /user`
//! and the verified primary email from `GET /user/emails`; with `GITHUB_ALLOWED_ORGS`, the user
//! must also be an active member of one of those organisations. github.com by default, or a
//! GitHub Enterprise Server at `GITHUB_URL`.

use serde::Deserialize;

use super::ProviderConfig;
use super::error::UpstreamError;
use super::identity::{Endpoints, Identity};

pub const AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const API_URL: &str = "https://api.github.com";
/// `GITHUB_URL` when unset.
pub const DEFAULT_URL: &str = "https://github.com";

/// github.com's endpoints. The exchange uses the provider's own ([`Urls`]), which are these
/// unless `GITHUB_URL` names a GitHub Enterprise Server.
pub fn endpoints() -> Endpoints<'static> {
    Endpoints {
        authorization: AUTHORIZE_URL,
        token: TOKEN_URL,
    }
}

/// Where one GitHub lives: its OAuth endpoints and its REST API.
#[derive(Debug, Clone, PartialEq)]
pub struct Urls {
    pub authorize: String,
    pub token: String,
    /// The REST API root, without a trailing slash.
    pub api: String,
}

impl Urls {
    /// From the web address: github.com's API is `api.github.com`, an Enterprise Server's is
    /// `<url>/api/v3`.
    pub fn new(web: &url::Url) -> Urls {
        let web = web.as_str().trim_end_matches('/');
        let api = if web == DEFAULT_URL {
            API_URL.to_owned()
        } else {
            format!("{web}/api/v3")
        };
        Urls {
            authorize: format!("{web}/login/oauth/authorize"),
            token: format!("{web}/login/oauth/access_token"),
            api,
        }
    }

    pub fn endpoints(&self) -> Endpoints<'_> {
        Endpoints {
            authorization: &self.authorize,
            token: &self.token,
        }
    }
}

fn api_url(p: &ProviderConfig) -> &str {
    p.github.as_ref().map_or(API_URL, |u| u.api.as_str())
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
struct Membership {
    state: String,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

async fn send(
    http: &reqwest::Client,
    p: &ProviderConfig,
    path: &str,
    token: &str,
) -> Result<reqwest::Response, UpstreamError> {
    http.get(format!("{}{path}", api_url(p)))
        .bearer_auth(token)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .map_err(|_| UpstreamError::Unreachable(p.name.clone()))
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    p: &ProviderConfig,
    path: &str,
    token: &str,
) -> Result<T, UpstreamError> {
    let res = send(http, p, path, token).await?;
    if !res.status().is_success() {
        return Err(UpstreamError::Refused(p.name.clone()));
    }
    res.json()
        .await
        .map_err(|e| UpstreamError::Unverifiable(p.name.clone(), e.to_string()))
}

/// Whether the token's user is an active member of `org`. `GET /user/memberships/orgs/{org}`
/// rather than `GET /user/orgs`: one answer per allowed organisation, no pagination to follow,
/// and it tells an active member from one with a pending invitation. 404: not a member; 403: the
/// organisation has not approved this OAuth app, so its membership is hidden from us.
async fn active_member(
    http: &reqwest::Client,
    p: &ProviderConfig,
    org: &str,
    token: &str,
) -> Result<bool, UpstreamError> {
    let res = send(http, p, &format!("/user/memberships/orgs/{org}"), token).await?;
    match res.status().as_u16() {
        200 => {
            let m: Membership = res
                .json()
                .await
                .map_err(|e| UpstreamError::Unverifiable(p.name.clone(), e.to_string()))?;
            Ok(m.state == "active")
        }
        403 | 404 => Ok(false),
        _ => Err(UpstreamError::Refused(p.name.clone())),
    }
}

/// The GitHub user behind an access token, with their primary email if GitHub verified it.
/// With allowed organisations, a user in none of them is refused before anything is created.
pub async fn identity(http: &reqwest::Client, p: &ProviderConfig, token: &str) -> Result<Identity, UpstreamError> {
    let user: GitHubUser = get(http, p, "/user", token).await?;
    if !p.policy.allowed_orgs.is_empty() {
        let mut member = false;
        for org in &p.policy.allowed_orgs {
            if active_member(http, p, org, token).await? {
                member = true;
                break;
            }
        }
        if !member {
            return Err(UpstreamError::NotAllowed(
                "Your GitHub account is not a member of an organisation allowed here.".into(),
            ));
        }
    }
    let emails: Vec<GitHubEmail> = get(http, p, "/user/emails", token).await?;
    let primary = emails.into_iter().find(|e| e.primary);
    Ok(Identity {
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
        hosted_domain: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::identity::{AttemptSecrets, authorize_url};
    use super::super::{ProviderConfig, ProviderKind};
    use super::*;

    fn github() -> ProviderConfig {
        ProviderConfig {
            id: "github".into(),
            name: "GitHub".into(),
            kind: ProviderKind::GitHub,
            client_id: "Iv1.abc".into(),
            client_secret: super::super::secret::ClientSecret::Value("s".into()),
            scopes: vec!["read:user".into(), "user:email".into()],
            policy: Default::default(),
            github: Some(Urls::new(&url::Url::parse(DEFAULT_URL).unwrap())),
        }
    }

    #[test]
    fn github_authorize_url_carries_client_redirect_scopes_state_and_pkce() {
        let secrets = AttemptSecrets::from_cookie("cookie");
        let url = authorize_url(
            &github(),
            &endpoints(),
            "https://mcp.example.com/oauth/callback/github",
            "st",
            &secrets,
            false,
        )
        .unwrap();
        assert!(url.as_str().starts_with(AUTHORIZE_URL));
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "Iv1.abc");
        assert_eq!(q["redirect_uri"], "https://mcp.example.com/oauth/callback/github");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "read:user user:email");
        assert_eq!(q["state"], "st");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], crate::tokens::pkce::challenge(&secrets.verifier));
        assert!(!q.contains_key("nonce"), "GitHub is not OpenID Connect");
        assert!(
            !url.as_str().contains("client_secret"),
            "the secret never goes to the browser"
        );
    }
}
