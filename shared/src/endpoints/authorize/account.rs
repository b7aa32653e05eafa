//! `/account`: the signed-in user's connected apps (revoke each), "Sign out everywhere", and
//! "Delete my account". Reached from the consent page, or directly (with its own sign-in form).
//!
//! Every signed-in form carries a CSRF token bound to the session (an HMAC of a label under the
//! session's own secret); a missing or stale one gets a page that says so. Revoking a grant that
//! is not the user's — a replayed form, another user's session, a guessed reference — changes
//! nothing, and the answer (a redirect back to the page) is the same whether it exists or not.
//! Every user-driven revocation, sign-out and deletion is a structured security event.
//!
//! Not for: operator actions (see `accounts::admin`, which this reuses for deletion).

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::csrf::{login_csrf_cookie, login_csrf_matches};
use super::html::{error_page, failure_page, read_form};
use crate::accounts::policy::Refusal;
use crate::accounts::{admin, sessions, users};
use crate::app::AppState;
use crate::clients;
use crate::crypto::{ct_eq, hmac_b64};
use crate::endpoints::pages;
use crate::http::{ApiError, ClientIp};
use crate::store::{Table, typed};
use crate::tokens::grants::{self, Grant};

pub const PATH: &str = "/account";

fn csrf_token(cookie: &str) -> String {
    hmac_b64(sessions::csrf_secret(cookie).as_bytes(), b"account")
}

/// A date (UTC) for people: `2026-12-02`.
fn date(epoch: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm: a calendar crate for one date would be heavier
    // than these lines.
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn redirect_here(cookies: &[String]) -> Response {
    let mut res = super::reply::redirect(PATH, StatusCode::SEE_OTHER);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The signed-in session of a request: (cookie value, session).
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<(String, sessions::Session)>, ApiError> {
    let Some(cookie) = sessions::cookie_value(headers) else {
        return Ok(None);
    };
    Ok(sessions::get(&state.store, &cookie)
        .await?
        .filter(|s| s.verified)
        .map(|s| (cookie, s)))
}

fn sign_in_page(headers: &HeaderMap, email: &str, error: Option<&str>, status: StatusCode) -> Response {
    let (csrf, set) = login_csrf_cookie(headers);
    let mut res = pages::html(status, pages::account_sign_in(PATH, &csrf, email, error));
    if let Some(v) = set.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn account_page(
    state: &AppState,
    cookie: &str,
    user_id: &str,
    notice: Option<&str>,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let user = users::get(store, user_id).await?;
    let email = user.map(|u| u.email).unwrap_or_default();
    let found = store.query_by_owner(Table::Grants, user_id).await?;
    let mut granted: Vec<(String, Grant)> = found
        .iter()
        .map(|item| typed::body::<Grant>(item).map(|g| (item.key.clone(), g)))
        .collect::<Result<_, _>>()?;
    granted.sort_by_key(|(_, g)| std::cmp::Reverse(g.created_at));
    // One batch read for the clients' names.
    let mut keys: Vec<(Table, String)> = granted
        .iter()
        .map(|(_, g)| (Table::Clients, clients::key(&g.client_id)))
        .collect();
    keys.sort();
    keys.dedup();
    let known: Vec<clients::Client> = if keys.is_empty() {
        Vec::new()
    } else {
        store
            .get_many(&keys)
            .await?
            .iter()
            .filter_map(|(_, item)| clients::from_item(item).ok())
            .collect()
    };
    struct Row {
        reference: String,
        name: String,
        host: Option<String>,
        scopes: Vec<&'static str>,
        granted: String,
        last_used: Option<String>,
    }
    let rows: Vec<Row> = granted
        .iter()
        .map(|(reference, g)| {
            let client = known.iter().find(|c| c.client_id == g.client_id);
            let host = match client {
                Some(c) if clients::document::is_document_id(&c.client_id, true) => url::Url::parse(&c.client_id)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned)),
                Some(c) => c.redirect_uris.first().map(|r| pages::redirect_target(r)),
                None => None,
            };
            Row {
                reference: reference.clone(),
                name: client
                    .map(|c| c.display_name().to_owned())
                    .unwrap_or_else(|| "An app that no longer exists".to_owned()),
                host,
                scopes: state
                    .scopes()
                    .describe(&g.scope)
                    .into_iter()
                    .map(|s| s.description)
                    .collect(),
                granted: date(g.created_at),
                last_used: g.last_used.map(date),
            }
        })
        .collect();
    let apps: Vec<pages::ConnectedApp> = rows
        .iter()
        .map(|r| pages::ConnectedApp {
            reference: &r.reference,
            name: &r.name,
            host: r.host.as_deref(),
            scopes: &r.scopes,
            granted: &r.granted,
            last_used: r.last_used.as_deref(),
        })
        .collect();
    let csrf = csrf_token(cookie);
    let page = pages::account(&pages::AccountPage {
        action: PATH,
        csrf: &csrf,
        email: &email,
        apps: &apps,
        notice,
    });
    Ok(pages::html(StatusCode::OK, page))
}

/// `GET /account`.
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Ok(Some((cookie, session))) => account_page(&state, &cookie, &session.user_id, None)
            .await
            .unwrap_or_else(failure_page),
        Ok(None) => sign_in_page(&headers, "", None, StatusCode::OK),
        Err(e) => failure_page(e),
    }
}

fn expired_form() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form expired",
        "It could not be verified. Open your account page again and retry.",
    )
}

/// `POST /account`: sign in, revoke, sign out everywhere, delete.
pub async fn post(State(state): State<AppState>, ClientIp(ip): ClientIp, req: Request) -> Response {
    let (headers, params) = match read_form(req).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let action = params.get("action").unwrap_or_default().to_owned();
    let signed = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return failure_page(e),
    };
    if action == "login" {
        let email = params.get("email").unwrap_or_default().to_owned();
        if !login_csrf_matches(&headers, params.get("csrf")) {
            return sign_in_page(
                &headers,
                &email,
                Some("This form expired. Please try again."),
                StatusCode::FORBIDDEN,
            );
        }
        let password = params.get("password").unwrap_or_default();
        return match users::log_in(&state.store, &email, password, ip).await {
            Ok(user) if users::is_disabled(&user) => error_page(
                StatusCode::FORBIDDEN,
                "You cannot sign in here",
                &Refusal::Disabled.to_string(),
            ),
            Ok(user) if !user.email_verified => sign_in_page(
                &headers,
                &email,
                Some("Verify your email first: sign in from the app you use, and enter the code we mail you."),
                StatusCode::FORBIDDEN,
            ),
            Ok(user) => match sessions::create(&state.store, &user.id, state.config.lifetimes.session).await {
                Ok((cookie, _)) => redirect_here(&[sessions::set_cookie(&cookie, state.config.lifetimes.session)]),
                Err(e) => failure_page(e.into()),
            },
            Err(users::LoginError::Invalid) => sign_in_page(
                &headers,
                &email,
                Some("Wrong email or password."),
                StatusCode::UNAUTHORIZED,
            ),
            Err(e @ users::LoginError::Throttled { .. }) => {
                sign_in_page(&headers, &email, Some(&e.to_string()), StatusCode::TOO_MANY_REQUESTS)
            }
            Err(e) => failure_page(ApiError::unavailable(e.to_string())),
        };
    }
    let Some((cookie, session)) = signed else {
        return sign_in_page(
            &headers,
            "",
            Some("Please sign in to continue."),
            StatusCode::UNAUTHORIZED,
        );
    };
    // Only a form this session rendered may act on the account.
    if !params.get("csrf").is_some_and(|p| ct_eq(p, &csrf_token(&cookie))) {
        return expired_form();
    }
    let store = &state.store;
    let user_id = session.user_id.clone();
    let result: Result<Response, ApiError> = async {
        match action.as_str() {
            "revoke" => {
                let reference = params.get("grant").unwrap_or_default();
                // The same answer whether the grant exists, is someone else's, or is made up.
                if !reference.is_empty()
                    && let Some(item) = store.get(Table::Grants, reference).await?
                    && typed::body::<Grant>(&item).is_ok_and(|g| ct_eq(&g.user_id, &user_id))
                {
                    grants::revoke_reference(store, reference, "revoked_by_user").await?;
                    tracing::warn!(event = "user_revoked_grant", user_id = %user_id, grant = %grants::short(reference));
                }
                Ok(redirect_here(&[]))
            }
            "sign_out_everywhere" => {
                let ended = sessions::end_all(store, &user_id).await?;
                tracing::warn!(event = "user_signed_out_everywhere", user_id = %user_id, sessions = ended);
                Ok(redirect_here(&[sessions::clear_cookie()]))
            }
            "delete_account" => {
                let plan = admin::delete_user_plan(store, &user_id).await.map_err(admin_error)?;
                let user = users::get(store, &user_id).await?;
                let removes = vec![
                    "your account and its email address".to_owned(),
                    format!("{} sign-in method(s): password and upstream identities", plan.logins),
                    format!("{} connected app(s) and their tokens", plan.grants),
                    format!("{} remembered approval(s)", plan.consents),
                    format!("{} note(s) kept by the tools", plan.notes),
                    format!("{} sign-in session(s)", plan.sessions),
                ];
                let page = pages::confirm_delete(
                    PATH,
                    &csrf_token(&cookie),
                    &user.map(|u| u.email).unwrap_or_default(),
                    &removes,
                );
                Ok(pages::html(StatusCode::OK, page))
            }
            "delete_confirmed" => {
                admin::delete_user(store, &user_id).await.map_err(admin_error)?;
                tracing::warn!(event = "user_deleted_account", user_id = %user_id);
                let mut res = pages::html(StatusCode::OK, pages::account_deleted());
                if let Ok(v) = HeaderValue::from_str(&sessions::clear_cookie()) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
                Ok(res)
            }
            _ => Ok(error_page(
                StatusCode::BAD_REQUEST,
                "This form could not be read",
                "Unknown action.",
            )),
        }
    }
    .await;
    result.unwrap_or_else(failure_page).into_response()
}

fn admin_error(e: admin::AdminError) -> ApiError {
    match e {
        admin::AdminError::Store(e) => e.into(),
        admin::AdminError::Keys(e) => e.into(),
        other => ApiError::unavailable(other.to_string()),
    }
}
