//! The authorization endpoint's handlers: `GET /oauth/authorize` starts (or resumes) a request;
//! `POST /oauth/authorize` receives the sign-in, sign-up and consent forms ([`Action`]);
//! `POST /oauth/logout` signs out from the consent screen.
//!
//! A request with a live session and remembered consent costs three store calls: client and
//! session in one batch read, the consent, and the new code. Remembered consent skips the page
//! only for clients whose identity the redirect proves (`consent::may_skip`, RFC 8252 §8.6).
//! Errors after the client and `redirect_uri` are verified are redirected only when the user has
//! a live consent for the client, or pressed Deny on our page (RFC 9700 §4.11.2).
//!
//! The protocol transaction is in `transaction`, the interaction steps in `screens`, `signin`,
//! `email` and `upstream`; this module only dispatches to them.

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde::de::IntoDeserializer;

use super::consent;
use super::csrf::LoginCsrf;
use super::html::{error_page, failure_page, read_form};
use super::reply;
use super::request;
use super::screens::{LOGOUT_PATH, login_page, signup_page};
use super::signin::{after_sign_in, signed_in};
use super::transaction::{Ctx, SignedIn, grant, refuse};
use super::{email, upstream};
use crate::accounts::{sessions, users};
use crate::app::AppState;
use crate::clients;
use crate::crypto::ct_eq;
use crate::form::Params;
use crate::http::{ApiError, ClientIp};
use crate::urls::{self, Urls};

/// What a form posted to `/oauth/authorize` asks for: its `action` field (a `provider` field
/// instead starts an upstream sign-in). An unknown action is a 400 page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    ShowSignup,
    ShowLogin,
    Login,
    Signup,
    VerifyEmail,
    ResendCode,
    ShowReset,
    RequestReset,
    Approve,
    Deny,
}

impl Action {
    fn parse(value: &str) -> Option<Action> {
        Action::deserialize(value.into_deserializer())
            .map_err(|_: serde::de::value::Error| ())
            .ok()
    }

    /// Whether the form must echo the login CSRF cookie: every form that signs in, creates an
    /// account or sends mail. Showing a page needs none; approve and deny carry a token bound to
    /// the session instead (`consent::csrf_valid`).
    fn needs_login_csrf(self) -> bool {
        matches!(
            self,
            Action::Login | Action::Signup | Action::VerifyEmail | Action::ResendCode | Action::RequestReset
        )
    }
}

async fn authorize_get(
    State(state): State<AppState>,
    urls: Urls,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                &e.description,
            );
        }
    };
    let (mut ctx, client, req, session) = match Ctx::open(state, urls, params, headers, false).await {
        Ok(opened) => opened,
        Err(res) => return *res,
    };
    // prompt=login asks for a fresh sign-in even when a session exists.
    match session.filter(|_| !req.prompt.login) {
        Some(signed_in) => after_sign_in(&ctx, &client, &req, &signed_in)
            .await
            .unwrap_or_else(failure_page),
        // No user, so no approval: shown as a page, never redirected.
        None if req.prompt.none => refuse(&ctx, &req, false, "login_required", "the user is not signed in"),
        None => login_page(&mut ctx, &client, "", None, StatusCode::OK),
    }
}

/// The page to show again when a form's login CSRF echo does not match: the same form, 403.
async fn expired(ctx: &mut Ctx, client: &clients::Client, action: Action, email: &str) -> Response {
    let msg = Some("This form expired. Please try again.");
    match action {
        Action::Signup => signup_page(ctx, client, email, msg, StatusCode::FORBIDDEN),
        Action::VerifyEmail | Action::ResendCode => {
            email::verify_page(ctx, client, msg).await.unwrap_or_else(failure_page)
        }
        Action::RequestReset => email::reset_request_page(ctx, email, msg, StatusCode::FORBIDDEN),
        _ => login_page(ctx, client, email, msg, StatusCode::FORBIDDEN),
    }
}

async fn authorize_post(
    State(state): State<AppState>,
    urls: Urls,
    ClientIp(ip): ClientIp,
    login_csrf: LoginCsrf,
    req: Request,
) -> Response {
    let (headers, params) = match read_form(req).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (mut ctx, client, req, session) = match Ctx::open(state, urls, params, headers, true).await {
        Ok(opened) => opened,
        Err(res) => return *res,
    };
    let csrf_ok = login_csrf.verifies(ctx.params.get("csrf"));
    let email = ctx.params.get("email").unwrap_or_default().to_owned();
    if let Some(provider) = ctx.params.get("provider").map(str::to_owned) {
        if !csrf_ok {
            return expired(&mut ctx, &client, Action::Login, "").await;
        }
        return upstream::start(&mut ctx, &provider).await;
    }
    let Some(action) = ctx.params.get("action").and_then(Action::parse) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            "Unknown action.",
        );
    };
    if action.needs_login_csrf() && !csrf_ok {
        return expired(&mut ctx, &client, action, &email).await;
    }
    let result = match action {
        Action::ShowSignup => Ok(signup_page(&mut ctx, &client, &email, None, StatusCode::OK)),
        Action::ShowLogin => Ok(login_page(&mut ctx, &client, &email, None, StatusCode::OK)),
        Action::Login => {
            let password = ctx.params.get("password").unwrap_or_default().to_owned();
            match users::log_in(&ctx.state.store, &email, &password, ip).await {
                Ok(user) => match ctx.state.config.signup.allows_email(&user.email) {
                    Err(refusal) => Ok(email::refusal_page(&ctx, &refusal)),
                    // Until the address is proved, the account cannot complete an authorization.
                    Ok(()) if !user.email_verified => {
                        email::start_verification(&mut ctx, &client, &user.id, &email).await
                    }
                    Ok(()) => signed_in(&mut ctx, &client, &req, &user.id).await,
                },
                Err(users::LoginError::Invalid) => Ok(login_page(
                    &mut ctx,
                    &client,
                    &email,
                    Some("Wrong email or password."),
                    StatusCode::UNAUTHORIZED,
                )),
                Err(e @ users::LoginError::Throttled { .. }) => Ok(login_page(
                    &mut ctx,
                    &client,
                    &email,
                    Some(&e.to_string()),
                    StatusCode::TOO_MANY_REQUESTS,
                )),
                Err(users::LoginError::Store(e)) => Err(e.into()),
                Err(e @ users::LoginError::Busy) => Err(ApiError::unavailable(e.to_string())),
            }
        }
        Action::Signup => {
            let password = ctx.params.get("password").unwrap_or_default().to_owned();
            email::sign_up(&mut ctx, &client, &email, &password, ip).await
        }
        Action::VerifyEmail => match email::verify(&mut ctx, &client).await {
            Ok(email::Verified::User(user_id)) => {
                let res = signed_in(&mut ctx, &client, &req, &user_id).await;
                // The ticket is used up only now, so a failed sign-in can be retried with the
                // same code (docs/RELIABILITY.md).
                match (res, crate::accounts::verification::cookie_value(&ctx.headers)) {
                    (Ok(res), Some(cookie)) => crate::accounts::verification::finish(&ctx.state.store, &cookie)
                        .await
                        .map(|_| res)
                        .map_err(ApiError::from),
                    (res, _) => res,
                }
            }
            Ok(email::Verified::Page(res)) => Ok(res),
            Err(e) => Err(e),
        },
        Action::ResendCode => email::resend(&mut ctx, &client).await,
        Action::ShowReset => Ok(email::reset_request_page(&mut ctx, &email, None, StatusCode::OK)),
        Action::RequestReset => email::request_reset(&mut ctx, &email, ip).await,
        Action::Approve | Action::Deny => match session {
            None => Ok(login_page(
                &mut ctx,
                &client,
                "",
                Some("Please sign in to continue."),
                StatusCode::UNAUTHORIZED,
            )),
            Some(SignedIn { cookie, session }) => {
                // The token is bound to this session and to this exact request.
                if !consent::csrf_valid(&sessions::csrf_secret(&cookie), &req, ctx.params.get("csrf")) {
                    return error_page(
                        StatusCode::FORBIDDEN,
                        "This form expired",
                        "The approval could not be verified. Go back to the application and start again.",
                    );
                }
                if action == Action::Deny {
                    tracing::info!(event = "consent_denied", client_id = %req.client_id, user_id = %session.user_id);
                    // The user chose this client on our own page: telling it so is no open redirect.
                    Ok(refuse(&ctx, &req, true, "access_denied", "the user denied the request"))
                } else {
                    // A client a person approved is kept; one nobody ever approves expires.
                    let confirmed = clients::confirm(&ctx.state.store, &client).await;
                    match confirmed.and(
                        consent::remember(
                            &ctx.state.store,
                            &session.user_id,
                            &req,
                            ctx.state.config.lifetimes.consent,
                        )
                        .await,
                    ) {
                        Ok(()) => grant(&ctx, &req, &session).await,
                        Err(e) => Err(e.into()),
                    }
                }
            }
        },
    };
    result.unwrap_or_else(failure_page)
}

/// Signs out, then shows the sign-in page for the same pending request.
async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let (headers, params) = match read_form(req).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    if let Some(cookie_value) = sessions::cookie_value(&headers) {
        // Only a form this session rendered may end it: another site must not sign users out.
        let expected = consent::logout_token(&sessions::csrf_secret(&cookie_value));
        if !params.get("logout_csrf").is_some_and(|p| ct_eq(p, &expected)) {
            return error_page(
                StatusCode::FORBIDDEN,
                "This form expired",
                "Sign-out could not be verified.",
            );
        }
        if let Err(e) = sessions::delete(&state.store, &cookie_value).await {
            return failure_page(e.into());
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(request::hidden(&params).iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let mut res = reply::redirect(&format!("{}?{query}", urls::AUTHORIZE_PATH), StatusCode::SEE_OTHER);
    if let Ok(v) = HeaderValue::from_str(&sessions::clear_cookie()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(urls::AUTHORIZE_PATH, get(authorize_get).post(authorize_post))
        .route(LOGOUT_PATH, post(logout))
        .route(
            crate::accounts::reset::PATH,
            get(email::reset_get).post(email::reset_post),
        )
        .route(crate::accounts::invites::PATH, get(email::invite_get))
        .route(
            super::account::PATH,
            get(super::account::get).post(super::account::post),
        )
        .route(upstream::CALLBACK_ROUTE, get(upstream::callback))
        .layer(crate::endpoints::layers::no_store())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_actions_parse_from_their_snake_case_names() {
        assert_eq!(Action::parse("verify_email"), Some(Action::VerifyEmail));
        assert_eq!(Action::parse("approve"), Some(Action::Approve));
        assert_eq!(Action::parse("Approve"), None);
        assert_eq!(Action::parse(""), None);
        assert!(Action::Login.needs_login_csrf() && !Action::ShowLogin.needs_login_csrf());
    }

    #[test]
    fn a_busy_server_answers_the_page_503_with_retry_after() {
        // What a sign-in or sign-up gets when every argon2 slot stays taken.
        let res = failure_page(ApiError::unavailable(users::LoginError::Busy.to_string()));
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
