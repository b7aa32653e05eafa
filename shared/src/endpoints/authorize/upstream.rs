//! Sign-in through an upstream provider, and the callback that resumes the pending MCP
//! authorization exactly where it left off (consent included).
//!
//! Starting: the sign-in page's provider button posts here with the pending request's fields. We
//! store a pending record under the SHA-256 of a random `state`, guarded by the SHA-256 of a
//! random cookie set in this browser, and send the browser to the provider with PKCE (and a
//! `nonce` for OpenID Connect), both derived from that cookie, so the store holds nothing usable.
//!
//! The callback consumes the pending record only when this browser's cookie matches its guard:
//! a callback URL replayed, or pushed into another browser (login CSRF), finds nothing to
//! consume, and the rightful browser can still finish. Every failure shows a page with a link
//! that restarts the same MCP authorization, and creates no account.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::csrf::cookie;
use super::html::{error_page, failure_page};
use super::request;
use super::signin::signed_in;
use super::transaction::Ctx;
use crate::accounts::policy::{Refusal, SignupMode};
use crate::accounts::{invites, users};
use crate::app::AppState;
use crate::crypto::{random_token, sha256_b64};
use crate::endpoints::pages;
use crate::form::Params;
use crate::http::ApiError;
use crate::store::{Consumed, Table, typed};
use crate::upstream::identity::{self, AttemptSecrets, Endpoints};
use crate::upstream::{ProviderConfig, ProviderKind, UpstreamError, github, oidc};
use crate::urls::{self, Urls};

pub const CALLBACK_ROUTE: &str = "/oauth/callback/{provider}";
/// Binds an upstream attempt to the browser that started it.
const BINDING_COOKIE: &str = "__Host-upstream";
/// How long a user has to finish signing in at the provider.
const PENDING_TTL: i64 = 600;

/// What the callback needs to resume: which provider, and the MCP authorization request.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    params: Vec<(String, String)>,
}

fn pending_key(state: &str) -> String {
    format!("pending#{}", sha256_b64(state.as_bytes()))
}

fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(crate::upstream::http_client);
    &CLIENT
}

/// `/oauth/authorize?<the request>`: where "Try again" leads.
fn retry_link(params: &[(String, String)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}?{query}", urls::AUTHORIZE_PATH)
}

fn retry_page(status: StatusCode, title: &str, message: &str, params: &[(String, String)]) -> Response {
    pages::html(status, pages::error_with_retry(title, message, &retry_link(params)))
}

fn callback_url(urls: &Urls, provider: &ProviderConfig) -> String {
    format!("{}/oauth/callback/{}", urls.issuer(), provider.id)
}

/// The provider's endpoints: fixed for GitHub, discovered for OpenID Connect.
enum Resolved {
    GitHub,
    Oidc(oidc::Discovery),
}

impl Resolved {
    async fn of(p: &ProviderConfig) -> Result<Self, UpstreamError> {
        Ok(match &p.kind {
            ProviderKind::GitHub => Resolved::GitHub,
            ProviderKind::Oidc { issuer } => Resolved::Oidc(oidc::discover(http(), p, issuer).await?),
        })
    }

    fn endpoints(&self) -> Endpoints<'_> {
        match self {
            Resolved::GitHub => github::endpoints(),
            Resolved::Oidc(d) => Endpoints {
                authorization: &d.authorization_endpoint,
                token: &d.token_endpoint,
            },
        }
    }
}

/// Sends the browser to the provider (from the sign-in page's provider button).
pub(super) async fn start(ctx: &mut Ctx, provider_id: &str) -> Response {
    let params: Vec<(String, String)> = request::hidden(&ctx.params)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let Some(provider) = ctx.state.config.providers.iter().find(|p| p.id == provider_id).cloned() else {
        return retry_page(
            StatusCode::BAD_REQUEST,
            "Unknown sign-in provider",
            "That way of signing in is not offered here.",
            &params,
        );
    };
    let resolved = match Resolved::of(&provider).await {
        Ok(r) => r,
        Err(e) => {
            return retry_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in is unavailable",
                &e.to_string(),
                &params,
            );
        }
    };
    // Read (once per instance) before the user leaves for the provider, so an unreachable
    // Secrets Manager is a page to retry now, not a failed callback later.
    if let Err(e) = crate::upstream::secret::resolve(&provider.client_secret, &provider.name).await {
        let mut page = retry_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            &e.to_string(),
            &params,
        );
        page.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("5"));
        return page;
    }
    let state = random_token();
    let binding = random_token();
    let secrets = AttemptSecrets::from_cookie(&binding);
    let with_nonce = matches!(resolved, Resolved::Oidc(_));
    let url = match identity::authorize_url(
        &provider,
        &resolved.endpoints(),
        &callback_url(&ctx.urls, &provider),
        &state,
        &secrets,
        with_nonce,
    ) {
        Ok(u) => u,
        Err(e) => {
            return retry_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in is unavailable",
                &e.to_string(),
                &params,
            );
        }
    };
    let store = &ctx.state.store;
    let mut item = match typed::item(
        pending_key(&state),
        &Pending {
            provider: provider.id.clone(),
            params,
        },
    ) {
        Ok(i) => i,
        Err(e) => return failure_page(e.into()),
    };
    item.guard = Some(sha256_b64(binding.as_bytes()));
    item.expires_at = Some(store.clock().now() + PENDING_TTL);
    if let Err(e) = store.put(Table::Sessions, item).await {
        return failure_page(e.into());
    }
    tracing::info!(event = "upstream_sign_in_started", provider = %provider.id);
    ctx.set_cookies.push(format!(
        "{BINDING_COOKIE}={binding}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={PENDING_TTL}"
    ));
    ctx.finish(super::reply::redirect(url.as_str(), StatusCode::SEE_OTHER))
}

/// Asks the provider who the user is.
async fn identify(
    p: &ProviderConfig,
    resolved: &Resolved,
    callback: &str,
    code: &str,
    binding: &str,
) -> Result<identity::Identity, UpstreamError> {
    let secrets = AttemptSecrets::from_cookie(binding);
    let tokens = identity::exchange(http(), p, &resolved.endpoints(), callback, code, &secrets).await?;
    use oauth2::TokenResponse;
    let access = tokens.access_token().secret();
    match resolved {
        Resolved::GitHub => github::identity(http(), p, access).await,
        Resolved::Oidc(discovery) => {
            let id_token = tokens
                .extra_fields()
                .id_token
                .as_deref()
                .ok_or_else(|| UpstreamError::Unverifiable(p.name.clone(), "no ID token in the answer".into()))?;
            let found = oidc::validate_id_token(http(), p, discovery, id_token, &secrets.nonce).await?;
            oidc::with_userinfo(http(), p, discovery, access, found).await
        }
    }
}

/// `GET /oauth/callback/{provider}`: the provider sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    urls: Urls,
    Path(provider_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let answer = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in answer is not valid",
                &e.description,
            );
        }
    };
    let Some(upstream_state) = answer.get("state") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in answer is not valid",
            "It carries no state.",
        );
    };
    let binding = cookie(&headers, BINDING_COOKIE).unwrap_or_default();
    let guard = sha256_b64(binding.as_bytes());
    let pending: Pending = match state
        .store
        .consume(Table::Sessions, &pending_key(upstream_state), Some(&guard))
        .await
    {
        Ok(Consumed::Taken(item)) => match typed::body(&item) {
            Ok(p) => p,
            Err(e) => return failure_page(e.into()),
        },
        Ok(Consumed::Absent) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in has expired or was already used",
                "Start again from the app you were using.",
            );
        }
        Ok(Consumed::GuardMismatch) => {
            tracing::warn!(event = "upstream_state_mismatch", provider = %provider_id);
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in was started in another browser",
                "For your safety it can only be finished in the browser that started it.",
            );
        }
        Err(e) => return failure_page(e.into()),
    };
    let params = pending.params;
    let retry = |status, title: &str, message: &str| retry_page(status, title, message, &params);
    let Some(provider) = state
        .config
        .providers
        .iter()
        .find(|p| p.id == provider_id && p.id == pending.provider)
        .cloned()
    else {
        return retry(
            StatusCode::BAD_REQUEST,
            "This sign-in answer is not valid",
            "It came back from another provider.",
        );
    };
    if let Some(error) = answer.get("error") {
        tracing::info!(event = "upstream_sign_in_refused", provider = %provider.id, error);
        let message = if error == "access_denied" {
            format!("You did not allow {} to sign you in here.", provider.name)
        } else {
            format!("{} reported an error ({error}).", provider.name)
        };
        return retry(StatusCode::BAD_REQUEST, "Sign-in was not completed", &message);
    }
    let Some(code) = answer.get("code") else {
        return retry(
            StatusCode::BAD_REQUEST,
            "This sign-in answer is not valid",
            "It carries no code.",
        );
    };
    let resolved = match Resolved::of(&provider).await {
        Ok(r) => r,
        Err(e) => return retry(StatusCode::BAD_GATEWAY, "Sign-in was not completed", &e.to_string()),
    };
    if let Resolved::Oidc(discovery) = &resolved
        && !discovery.accepts_response_issuer(answer.get("iss"))
    {
        tracing::warn!(event = "upstream_issuer_mismatch", provider = %provider.id);
        let message = format!("The answer did not come from {}.", provider.name);
        return retry(StatusCode::BAD_REQUEST, "Sign-in was not completed", &message);
    }
    let found = match identify(&provider, &resolved, &callback_url(&urls, &provider), code, &binding).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(event = "upstream_sign_in_failed", provider = %provider.id, error = %e);
            let status = if matches!(e, UpstreamError::Unreachable(_)) {
                StatusCode::BAD_GATEWAY
            } else if matches!(e, UpstreamError::NotAllowed(_)) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            return retry(status, "Sign-in was not completed", &e.to_string());
        }
    };
    let Some(email) = found.email.as_deref().filter(|_| found.email_verified) else {
        let e = UpstreamError::NoVerifiedEmail(provider.name.clone());
        return retry(StatusCode::BAD_REQUEST, "Sign-in was not completed", &e.to_string());
    };
    if users::normalize_email(email).is_err() {
        let e = UpstreamError::NoVerifiedEmail(provider.name.clone());
        return retry(StatusCode::BAD_REQUEST, "Sign-in was not completed", &e.to_string());
    }
    let identity_key = users::identity_key(&provider.id, &found.subject);
    let normalized = users::normalize_email(email).unwrap_or_default();
    // The sign-up policy: the domain list for every sign-in, the mode for a new account.
    let policy = &state.config.signup;
    let refused = |refusal: Refusal| {
        tracing::info!(event = "sign_in_refused_by_policy", provider = %provider.id, reason = ?refusal);
        retry(StatusCode::FORBIDDEN, "You cannot sign in here", &refusal.to_string())
    };
    let mut spent_invite = None;
    match users::identity_would_create(&state.store, &identity_key, email).await {
        Err(e) => return failure_page(e.into()),
        Ok(false) => {
            if let Err(refusal) = policy.allows_email(&normalized) {
                return refused(refusal);
            }
        }
        Ok(true) => {
            let token = invites::cookie_value(&headers);
            let invite = match &token {
                Some(t) => match invites::peek(&state.store, t).await {
                    Ok(i) => i,
                    Err(e) => return failure_page(e.into()),
                },
                None => None,
            };
            if let Err(refusal) = policy.allows_signup(&normalized, invite.as_ref().map(|i| i.email.as_deref())) {
                return refused(refusal);
            }
            let needs_invite = policy.mode == SignupMode::Invite || policy.allows_signup(&normalized, None).is_err();
            if let (Some(token), true) = (&token, invite.is_some() && needs_invite) {
                match invites::spend(&state.store, token).await {
                    Ok(Some(spent)) => spent_invite = Some(spent),
                    Ok(None) => return refused(Refusal::InvalidInvite),
                    Err(e) => return failure_page(e.into()),
                }
            }
        }
    }
    let user = match users::find_or_link_verified(&state.store, &identity_key, email).await {
        Ok(u) => u,
        Err(e) => {
            if let Some(spent) = spent_invite {
                let _ = invites::give_back(&state.store, spent).await;
            }
            return failure_page(e.into());
        }
    };
    tracing::info!(event = "upstream_sign_in_succeeded", provider = %provider.id, user_id = %user.id);
    resume(state, urls, params, &user.id).await
}

/// Carries on with the MCP authorization request as if the user had just signed in on our page.
async fn resume(state: AppState, urls: Urls, params: Vec<(String, String)>, user_id: &str) -> Response {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let params = match Params::parse(encoded.as_bytes()) {
        Ok(p) => p,
        Err(e) => return failure_page(e),
    };
    // The session cookie, if any, is ignored: whoever signed in upstream is who signs in now.
    let (mut ctx, client, req, _) = match Ctx::open(state, urls, params, HeaderMap::new(), false).await {
        Ok(opened) => opened,
        Err(res) => return *res,
    };
    // The binding cookie has done its work.
    ctx.set_cookies.push(format!(
        "{BINDING_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ));
    signed_in(&mut ctx, &client, &req, user_id)
        .await
        .unwrap_or_else(|e: ApiError| failure_page(e))
}
