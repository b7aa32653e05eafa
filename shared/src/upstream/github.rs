//! GitHub, which speaks OAuth 2.0 but not OpenID Connect: the user's id comes from `GET /user`
//! and the verified primary email from `GET /user/emails`.

use serde::Deserialize;

use super::ProviderConfig;
use super::identity::{Endpoints, Identity, UpstreamError};

pub const AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const API_URL: &str = "https://api.github.com";

pub fn endpoints() -> Endpoints<'static> {
    Endpoints {
        authorization: AUTHORIZE_URL,
        token: TOKEN_URL,
    }
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    p: &ProviderConfig,
    path: &str,
    token: &str,
) -> Result<T, UpstreamError> {
    let res = http
        .get(format!("{API_URL}{path}"))
        .bearer_auth(token)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .map_err(|_| UpstreamError::Unreachable(p.name.clone()))?;
    if !res.status().is_success() {
        return Err(UpstreamError::Refused(p.name.clone()));
    }
    res.json()
        .await
        .map_err(|e| UpstreamError::Unverifiable(p.name.clone(), e.to_string()))
}

/// The GitHub user behind an access token, with their primary email if GitHub verified it.
pub async fn identity(http: &reqwest::Client, p: &ProviderConfig, token: &str) -> Result<Identity, UpstreamError> {
    let user: GitHubUser = get(http, p, "/user", token).await?;
    let emails: Vec<GitHubEmail> = get(http, p, "/user/emails", token).await?;
    let primary = emails.into_iter().find(|e| e.primary);
    Ok(Identity {
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
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
            client_secret: "s".into(),
            scopes: vec!["read:user".into(), "user:email".into()],
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
