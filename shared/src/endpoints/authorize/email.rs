//! The authorization flow's steps around email: sign-up (with the sign-up policy and its
//! throttle), the "check your email" code, password reset, and invitation links.
//!
//! Sign-up answers the same for a new address and for one that already has an account: both hash
//! the password, both set a verification cookie, both mail the address (a code, or a notice that
//! the account exists), and both show "check your email". So the page never says which addresses
//! are registered.
//!
//! Not for: the checks themselves (see `accounts::{verification, reset, invites, policy}`) or the
//! page markup (see `pages`).

use std::net::IpAddr;

use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::csrf::{login_csrf_cookie, login_csrf_matches};
use super::html::{error_page, failure_page, read_form};
use super::screens::signup_page;
use super::transaction::Ctx;
use crate::accounts::policy::{Refusal, SignupMode};
use crate::accounts::verification::{self, Purpose, Site, VerifyError};
use crate::accounts::{invites, password, reset, throttle, users};
use crate::app::AppState;
use crate::clients::Client;
use crate::endpoints::pages;
use crate::form::Params;
use crate::http::ApiError;
use crate::store::Table;
use crate::urls::{self, Urls};

/// Sign-ups accepted per source address per hour: enough for an office behind one address,
/// little for a script creating accounts.
pub const SIGNUPS_PER_HOUR: u64 = 20;

/// A refused sign-up or sign-in: a page that says why; nothing was created.
pub(super) fn refusal_page(ctx: &Ctx, refusal: &Refusal) -> Response {
    tracing::info!(event = "sign_in_refused_by_policy", reason = ?refusal);
    ctx.finish(error_page(
        StatusCode::FORBIDDEN,
        "You cannot sign in here",
        &refusal.to_string(),
    ))
}

fn mail_failure(e: VerifyError) -> ApiError {
    match e {
        VerifyError::Store(e) => e.into(),
        other => ApiError::unavailable(other.to_string()),
    }
}

/// Mails a code to an account that is not verified yet and shows "check your email".
pub(super) async fn start_verification(
    ctx: &mut Ctx,
    client: &Client,
    user_id: &str,
    typed_email: &str,
) -> Result<Response, ApiError> {
    let site = site(ctx);
    let cookie = verification::start(
        &ctx.state.store,
        ctx.state.mailer.as_ref(),
        Purpose::Account { user_id },
        &users::normalize_email(typed_email).unwrap_or_else(|_| typed_email.to_owned()),
        &site.as_site(),
    )
    .await
    .map_err(mail_failure)?;
    ctx.set_cookies.push(verification::set_cookie(&cookie));
    Ok(render_verify(ctx, client, typed_email, None, None, StatusCode::OK))
}

/// The deployment's name and issuer, owned (a `Ctx` borrow would outlive the step).
struct OwnedSite {
    name: String,
    issuer: String,
}

impl OwnedSite {
    fn as_site(&self) -> Site<'_> {
        Site {
            name: &self.name,
            issuer: &self.issuer,
        }
    }
}

fn site(ctx: &Ctx) -> OwnedSite {
    let s = ctx.site();
    OwnedSite {
        name: s.name.to_owned(),
        issuer: s.issuer.to_owned(),
    }
}

fn render_verify(
    ctx: &mut Ctx,
    client: &Client,
    email: &str,
    error: Option<&str>,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = ctx.login_csrf();
    let hidden = ctx.hidden();
    let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = pages::verify(&pages::VerifyPage {
        action: urls::AUTHORIZE_PATH,
        hidden: &hidden,
        csrf: &csrf,
        email,
        client_name: client.display_name(),
        error,
        notice,
    });
    ctx.finish(pages::html(status, page))
}

/// "Check your email" again, for the browser's pending verification (or the sign-up page when
/// it has none).
pub(super) async fn verify_page(ctx: &mut Ctx, client: &Client, error: Option<&str>) -> Result<Response, ApiError> {
    let pending = match verification::cookie_value(&ctx.headers) {
        Some(cookie) => verification::pending_email(&ctx.state.store, &cookie).await?,
        None => None,
    };
    Ok(match pending {
        Some(email) => render_verify(ctx, client, &email, error, None, StatusCode::FORBIDDEN),
        None => expired(ctx, client),
    })
}

fn expired(ctx: &mut Ctx, client: &Client) -> Response {
    ctx.set_cookies.push(verification::clear_cookie());
    signup_page(
        ctx,
        client,
        "",
        Some("This sign-up has expired. Enter your details again, or sign in."),
        StatusCode::BAD_REQUEST,
    )
}

/// Counts one sign-up from `ip` this hour: `Err(retry_after)` past [`SIGNUPS_PER_HOUR`].
async fn signup_throttle(ctx: &Ctx, ip: Option<IpAddr>) -> Result<Result<(), i64>, ApiError> {
    let store = &ctx.state.store;
    let now = store.clock().now();
    let hour = now.div_euclid(3600);
    let source = ip.map(throttle::source).unwrap_or_else(|| "unknown".into());
    let count = store
        .increment(Table::Limits, &format!("signup:ip:{source}:{hour}"), (hour + 1) * 3600)
        .await?;
    if count > SIGNUPS_PER_HOUR {
        tracing::warn!(event = "signup_throttled", source = %source);
        return Ok(Err(((hour + 1) * 3600 - now).max(1)));
    }
    Ok(Ok(()))
}

/// The sign-up form was posted: policy, throttle, then the same answer for new and known addresses.
pub(super) async fn sign_up(
    ctx: &mut Ctx,
    client: &Client,
    typed_email: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let Ok(email) = users::normalize_email(typed_email) else {
        let msg = users::SignupError::InvalidEmail.to_string();
        return Ok(signup_page(
            ctx,
            client,
            typed_email,
            Some(&msg),
            StatusCode::BAD_REQUEST,
        ));
    };
    if let Err(weak) = password::check_rules(password, &email) {
        let msg = weak.to_string();
        return Ok(signup_page(
            ctx,
            client,
            typed_email,
            Some(&msg),
            StatusCode::BAD_REQUEST,
        ));
    }
    let store = ctx.state.store.clone();
    let policy = ctx.state.config.signup.clone();
    let invite_token = invites::cookie_value(&ctx.headers);
    let invite = match &invite_token {
        Some(t) => invites::peek(&store, t).await?,
        None => None,
    };
    if let Err(refusal) = policy.allows_signup(&email, invite.as_ref().map(|i| i.email.as_deref())) {
        return Ok(refusal_page(ctx, &refusal));
    }
    if let Err(retry_after) = signup_throttle(ctx, ip).await? {
        let msg = format!(
            "Too many accounts were created from your network. Try again in {} minutes.",
            (retry_after + 59) / 60
        );
        return Ok(signup_page(
            ctx,
            client,
            typed_email,
            Some(&msg),
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    // An invite is spent only when the policy needed it.
    let needs_invite = policy.mode == SignupMode::Invite || policy.allows_signup(&email, None).is_err();
    let spent = match (&invite_token, invite.is_some() && needs_invite) {
        (Some(token), true) => match invites::spend(&store, token).await? {
            Some(spent) => Some(spent),
            None => return Ok(refusal_page(ctx, &Refusal::InvalidInvite)),
        },
        _ => None,
    };
    let site = site(ctx);
    let purpose_user;
    let purpose = match users::sign_up(&store, &email, password).await {
        Ok(user) => {
            purpose_user = user.id;
            if spent.is_some() {
                ctx.set_cookies.push(invites::clear_cookie());
                tracing::info!(event = "invite_used", user_id = %purpose_user);
            }
            Purpose::Account { user_id: &purpose_user }
        }
        Err(users::SignupError::EmailTaken) => {
            if let Some(spent) = spent {
                invites::give_back(&store, spent).await?;
            }
            tracing::info!(event = "signup_for_existing_account", account = %users::account_tag(&email));
            Purpose::Existing
        }
        Err(users::SignupError::Store(e)) => return Err(e.into()),
        Err(e @ users::SignupError::Hashing(_)) => return Err(ApiError::unavailable(e.to_string())),
        Err(e) => {
            let msg = e.to_string();
            return Ok(signup_page(
                ctx,
                client,
                typed_email,
                Some(&msg),
                StatusCode::BAD_REQUEST,
            ));
        }
    };
    let cookie = verification::start(&store, ctx.state.mailer.as_ref(), purpose, &email, &site.as_site())
        .await
        .map_err(mail_failure)?;
    ctx.set_cookies.push(verification::set_cookie(&cookie));
    Ok(render_verify(ctx, client, typed_email, None, None, StatusCode::OK))
}

/// What a posted code came to.
pub(super) enum Verified {
    /// The account is verified: sign this user in.
    User(String),
    /// Show this page (a wrong or expired code).
    Page(Response),
}

/// The code form was posted.
pub(super) async fn verify(ctx: &mut Ctx, client: &Client) -> Result<Verified, ApiError> {
    let Some(cookie) = verification::cookie_value(&ctx.headers) else {
        return Ok(Verified::Page(expired(ctx, client)));
    };
    let code = ctx.params.get("code").unwrap_or_default().to_owned();
    match verification::check(&ctx.state.store, &cookie, &code).await {
        Ok(user_id) => {
            ctx.set_cookies.push(verification::clear_cookie());
            Ok(Verified::User(user_id))
        }
        Err(VerifyError::Expired) => Ok(Verified::Page(expired(ctx, client))),
        Err(VerifyError::Store(e)) => Err(e.into()),
        Err(e @ (VerifyError::Wrong | VerifyError::TooManyAttempts)) => {
            let status = if matches!(e, VerifyError::TooManyAttempts) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::BAD_REQUEST
            };
            let email = verification::pending_email(&ctx.state.store, &cookie)
                .await?
                .unwrap_or_default();
            Ok(Verified::Page(render_verify(
                ctx,
                client,
                &email,
                Some(&e.to_string()),
                None,
                status,
            )))
        }
        Err(e) => Err(mail_failure(e)),
    }
}

/// "Send a new code" was posted.
pub(super) async fn resend(ctx: &mut Ctx, client: &Client) -> Result<Response, ApiError> {
    let Some(cookie) = verification::cookie_value(&ctx.headers) else {
        return Ok(expired(ctx, client));
    };
    let site = site(ctx);
    let result = verification::resend(&ctx.state.store, ctx.state.mailer.as_ref(), &cookie, &site.as_site()).await;
    let email = verification::pending_email(&ctx.state.store, &cookie).await?;
    let Some(email) = email else {
        return Ok(expired(ctx, client));
    };
    Ok(match result {
        Ok(()) => render_verify(ctx, client, &email, None, Some("We sent a new code."), StatusCode::OK),
        Err(e @ (VerifyError::TooSoon(_) | VerifyError::TooManySends)) => render_verify(
            ctx,
            client,
            &email,
            Some(&e.to_string()),
            None,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(VerifyError::Expired) => expired(ctx, client),
        Err(e) => return Err(mail_failure(e)),
    })
}

pub(super) fn reset_request_page(ctx: &mut Ctx, email: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = ctx.login_csrf();
    let hidden = ctx.hidden();
    let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = pages::reset_request(&pages::ResetRequestPage {
        action: urls::AUTHORIZE_PATH,
        hidden: &hidden,
        csrf: &csrf,
        email,
        error,
    });
    ctx.finish(pages::html(status, page))
}

/// "Send reset link" was posted: the same page whether or not the address has an account.
pub(super) async fn request_reset(ctx: &mut Ctx, typed_email: &str, ip: Option<IpAddr>) -> Result<Response, ApiError> {
    let params: Vec<(String, String)> = ctx.hidden().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let site = site(ctx);
    let store = ctx.state.store.clone();
    match reset::request(
        &store,
        ctx.state.mailer.as_ref(),
        typed_email,
        ip,
        params,
        &site.as_site(),
    )
    .await
    {
        Ok(_) => {
            let csrf = ctx.login_csrf();
            let hidden = ctx.hidden();
            let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = pages::reset_sent(urls::AUTHORIZE_PATH, &hidden, &csrf, typed_email);
            Ok(ctx.finish(pages::html(StatusCode::OK, page)))
        }
        Err(e @ reset::ResetError::InvalidEmail) => Ok(reset_request_page(
            ctx,
            typed_email,
            Some(&e.to_string()),
            StatusCode::BAD_REQUEST,
        )),
        Err(e @ reset::ResetError::Throttled(_)) => Ok(reset_request_page(
            ctx,
            typed_email,
            Some(&e.to_string()),
            StatusCode::TOO_MANY_REQUESTS,
        )),
        Err(reset::ResetError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::unavailable(e.to_string())),
    }
}

fn with_cookies(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn reset_form(headers: &HeaderMap, token: &str, email: &str, error: Option<&str>, status: StatusCode) -> Response {
    let (csrf, set) = login_csrf_cookie(headers);
    let page = pages::reset_form(&pages::ResetFormPage {
        action: reset::PATH,
        token,
        csrf: &csrf,
        email,
        error,
        password_rules: password::RULES,
    });
    with_cookies(pages::html(status, page), &set.into_iter().collect::<Vec<_>>())
}

fn link_expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This link has expired",
        "It was already used, or is older than 30 minutes. Ask for a new one from the sign-in page.",
    )
}

/// `GET /oauth/reset?token=…`: the mailed link. Shows the form; the token is spent only by the post.
pub async fn reset_get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let token = params.get("token").unwrap_or_default().to_owned();
    match reset::peek(&state.store, &token).await {
        Ok(Some(ticket)) => reset_form(&headers, &token, &ticket.email, None, StatusCode::OK),
        Ok(None) => link_expired(),
        Err(e) => failure_page(e.into()),
    }
}

/// `POST /oauth/reset`: sets the new password.
pub async fn reset_post(State(state): State<AppState>, req: Request) -> Response {
    let (headers, params) = match read_form(req).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let token = params.get("token").unwrap_or_default().to_owned();
    let ticket = match reset::peek(&state.store, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return link_expired(),
        Err(e) => return failure_page(e.into()),
    };
    if !login_csrf_matches(&headers, params.get("csrf")) {
        let msg = "This form expired. Please try again.";
        return reset_form(&headers, &token, &ticket.email, Some(msg), StatusCode::FORBIDDEN);
    }
    let new_password = params.get("password").unwrap_or_default();
    match reset::complete(&state.store, &token, new_password).await {
        Ok(ticket) => {
            let continue_to = (!ticket.params.is_empty()).then(|| {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&ticket.params)
                    .finish();
                format!("{}?{query}", urls::AUTHORIZE_PATH)
            });
            pages::html(StatusCode::OK, pages::reset_done(continue_to.as_deref()))
        }
        Err(e @ reset::ResetError::WeakPassword(_)) => reset_form(
            &headers,
            &token,
            &ticket.email,
            Some(&e.to_string()),
            StatusCode::BAD_REQUEST,
        ),
        Err(reset::ResetError::Expired) => link_expired(),
        Err(reset::ResetError::Store(e)) => failure_page(e.into()),
        Err(e) => failure_page(ApiError::unavailable(e.to_string())),
    }
}

/// `GET /oauth/invite?token=…`: keeps the invite in this browser and says how to go on.
pub async fn invite_get(State(state): State<AppState>, urls: Urls, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let token = params.get("token").unwrap_or_default().to_owned();
    match invites::peek(&state.store, &token).await {
        Ok(Some(invite)) => {
            let page = pages::invite(&state.config.resource_name, &urls.mcp(), invite.email.as_deref());
            let cookie = invites::set_cookie(&token, invites::DEFAULT_TTL);
            with_cookies(pages::html(StatusCode::OK, page), &[cookie])
        }
        Ok(None) => error_page(
            StatusCode::BAD_REQUEST,
            "This invitation is not valid",
            "It has expired or was already used. Ask the person who sent it for a new one.",
        ),
        Err(e) => failure_page(e.into()),
    }
}
