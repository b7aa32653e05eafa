//! What an upstream provider tells us about the user, and the OAuth 2.0 code exchange every
//! provider shares (through the `oauth2` crate, with PKCE).

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::ProviderConfig;
use super::error::UpstreamError;

/// The user as the provider describes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The provider's stable id for the user (`sub`, or GitHub's numeric id).
    pub subject: String,
    pub email: Option<String>,
    /// Whether `email` counts as verified, under the provider's policy (`policy::EmailTrust`).
    pub email_verified: bool,
    /// Google Workspace's `hd` claim: the domain the account belongs to; `None` elsewhere.
    pub hosted_domain: Option<String>,
}

/// Token responses may carry an OpenID Connect ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

pub type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type UpstreamClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The endpoints of one provider.
pub struct Endpoints<'a> {
    pub authorization: &'a str,
    pub token: &'a str,
}

/// `secret`: the client secret, needed only to redeem a code (an authorization URL carries none).
fn client(
    p: &ProviderConfig,
    secret: Option<String>,
    endpoints: &Endpoints<'_>,
    redirect_uri: &str,
) -> Result<UpstreamClient, UpstreamError> {
    let bad = |_| UpstreamError::Misconfigured(p.name.clone());
    // GitHub's endpoints follow `GITHUB_URL` (an Enterprise Server): they take precedence over
    // the ones passed in, which for GitHub are github.com's (`github::endpoints()`).
    let endpoints = p.github.as_ref().map_or_else(
        || Endpoints {
            authorization: endpoints.authorization,
            token: endpoints.token,
        },
        |urls| urls.endpoints(),
    );
    let client = oauth2::Client::new(ClientId::new(p.client_id.clone()));
    let client = match secret {
        Some(s) => client.set_client_secret(ClientSecret::new(s)),
        None => client,
    };
    Ok(client
        .set_auth_uri(AuthUrl::new(endpoints.authorization.to_owned()).map_err(bad)?)
        .set_token_uri(TokenUrl::new(endpoints.token.to_owned()).map_err(bad)?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(bad)?))
}

/// The secrets of one upstream attempt, all derived from the browser's binding cookie, so that
/// the pending record in the store holds none of them.
pub struct AttemptSecrets {
    pub verifier: String,
    pub nonce: String,
}

impl AttemptSecrets {
    pub fn from_cookie(cookie: &str) -> Self {
        AttemptSecrets {
            // 43 base64url characters: a valid PKCE verifier (RFC 7636 §4.1).
            verifier: crate::crypto::hmac_b64(cookie.as_bytes(), b"upstream pkce verifier"),
            nonce: crate::crypto::hmac_b64(cookie.as_bytes(), b"upstream nonce"),
        }
    }
}

/// The provider's authorization URL for this attempt: code flow, PKCE S256, `state`, and for
/// OpenID Connect a `nonce`.
pub fn authorize_url(
    p: &ProviderConfig,
    endpoints: &Endpoints<'_>,
    redirect_uri: &str,
    state: &str,
    secrets: &AttemptSecrets,
    with_nonce: bool,
) -> Result<url::Url, UpstreamError> {
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(secrets.verifier.clone()));
    let client = client(p, None, endpoints, redirect_uri)?;
    let state = state.to_owned();
    let mut req = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(p.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    if with_nonce {
        req = req.add_extra_param("nonce", secrets.nonce.clone());
    }
    // One allowed domain: ask the account chooser for it (Google's `hd`). Only a hint; the ID
    // token's `hd` is what `policy::admit` checks.
    if let [domain] = p.policy.allowed_domains.as_slice()
        && matches!(p.kind, super::ProviderKind::Oidc { .. })
    {
        req = req.add_extra_param("hd", domain.clone());
    }
    Ok(req.url().0)
}

/// Exchanges the code for tokens at the provider's token endpoint.
pub async fn exchange(
    http: &reqwest::Client,
    p: &ProviderConfig,
    endpoints: &Endpoints<'_>,
    redirect_uri: &str,
    code: &str,
    secrets: &AttemptSecrets,
) -> Result<TokenResponse, UpstreamError> {
    let secret = super::secret::resolve(&p.client_secret, &p.name).await?;
    let client = client(p, Some(secret), endpoints, redirect_uri)?;
    client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(secrets.verifier.clone()))
        .request_async(http)
        .await
        .map_err(|e| match e {
            oauth2::RequestTokenError::Request(_) => UpstreamError::Unreachable(p.name.clone()),
            other => {
                tracing::warn!(event = "upstream_token_refused", provider = %p.id, error = %other);
                UpstreamError::Refused(p.name.clone())
            }
        })
}
