//! The protocol transaction of one authorization request: reading the client and session,
//! validating the request (RFC 6749 §4.1.1, OAuth 2.1), deciding whether an error may be
//! redirected (RFC 9700 §4.11.2), and issuing the code with the redirect back to the client.
//!
//! The interaction steps (sign-in, sign-up, upstream, consent) build on [`Ctx`]; nothing here
//! imports them.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::consent;
use super::csrf::login_csrf_cookie;
use super::html::{error_page, failure_page};
use super::reply;
use super::request::{self, AuthorizeRequest, PageError, RedirectError};
use crate::accounts::sessions;
use crate::app::AppState;
use crate::clients::redirect_uri;
use crate::clients::{self, Client};
use crate::form::Params;
use crate::http::{ApiError, ErrorCode};
use crate::resource;
use crate::store::Table;
use crate::tokens::codes::{self, AuthCode};
use crate::urls::Urls;

/// Everything a step of the flow needs to know about the current request.
pub(super) struct Ctx {
    pub(super) state: AppState,
    pub(super) urls: Urls,
    pub(super) params: Params,
    pub(super) headers: HeaderMap,
    /// Cookies to set on whatever response this step produces.
    pub(super) set_cookies: Vec<String>,
    /// A POST answers redirects with 303 so the browser follows with GET.
    pub(super) from_post: bool,
}

impl Ctx {
    /// Starts a step: reads the client and session (one store call), then identifies the client
    /// and validates the request. The error is the response to send: an error page before the
    /// client and `redirect_uri` are verified, a redirect after.
    pub(super) async fn open(
        state: AppState,
        urls: Urls,
        params: Params,
        headers: HeaderMap,
        from_post: bool,
    ) -> Result<(Ctx, Client, AuthorizeRequest, Option<SignedIn>), Box<Response>> {
        let ctx = Ctx {
            state,
            urls,
            params,
            headers,
            set_cookies: Vec::new(),
            from_post,
        };
        let (client, session) = lookup(&ctx.state, &ctx.params, &ctx.headers)
            .await
            .map_err(|e| Box::new(failure_page(e)))?;
        match understand(&ctx, client.as_ref()) {
            Ok((client, req)) => Ok((ctx, client, req, session)),
            Err(Refusal::Page(res)) => Err(res),
            Err(Refusal::Redirect {
                client_id,
                redirect_uri,
                error: RedirectError { error, description },
            }) => {
                let user_id = session.as_ref().map(|s| s.session.user_id.as_str());
                let resource = resource::resolve(ctx.params.get("resource"), &ctx.urls)
                    .or_else(|_| resource::resolve(None, &ctx.urls))
                    .unwrap_or_default();
                let approved = approved(&ctx, user_id, &client_id, &resource).await;
                let state = ctx.params.get("state");
                Err(Box::new(ctx.error_reply(
                    approved,
                    &redirect_uri,
                    error,
                    &description,
                    state,
                )))
            }
        }
    }

    /// An error for a request whose client and `redirect_uri` are verified: redirected to the
    /// client only when the signed-in user has a live consent for it, else shown as a page.
    /// RFC 9700 §4.11.2: redirecting errors to any registered URI would make this server an open
    /// redirector for whoever registers one; the user's approval is what makes the target trusted.
    fn error_reply(
        &self,
        approved: bool,
        redirect_uri: &str,
        error: &str,
        description: &str,
        state: Option<&str>,
    ) -> Response {
        if approved {
            return self.finish(reply::error(
                redirect_uri,
                error,
                description,
                state,
                self.urls.issuer(),
                self.redirect_status(),
            ));
        }
        let (title, message) = match error {
            "login_required" => (
                "Sign-in required",
                "The application asked to continue without showing a page, but you are not signed in. \
                 Go back to the application and try again."
                    .to_owned(),
            ),
            "consent_required" => (
                "Approval required",
                "The application asked to continue without showing a page, but you have not approved it. \
                 Go back to the application and try again."
                    .to_owned(),
            ),
            _ => ("This sign-in link is not valid", format!("{description} ({error})")),
        };
        self.finish(error_page(StatusCode::BAD_REQUEST, title, &message))
    }

    pub(super) fn redirect_status(&self) -> StatusCode {
        if self.from_post {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FOUND
        }
    }

    pub(super) fn finish(&self, mut res: Response) -> Response {
        for c in &self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }

    pub(super) fn hidden(&self) -> Vec<(&'static str, String)> {
        request::hidden(&self.params)
    }

    /// The login CSRF value: the browser's cookie, or a new one set with this response.
    pub(super) fn login_csrf(&mut self) -> String {
        let (v, set) = login_csrf_cookie(&self.headers);
        self.set_cookies.extend(set);
        v
    }

    /// The deployment as mails name it.
    pub(super) fn site(&self) -> crate::accounts::verification::Site<'_> {
        crate::accounts::verification::Site {
            name: &self.state.config.resource_name,
            issuer: self.urls.issuer(),
        }
    }
}

/// A session and the cookie that names it (CSRF secrets derive from the cookie).
pub(super) struct SignedIn {
    pub(super) cookie: String,
    pub(super) session: sessions::Session,
}

/// Reads the client and the session in one store call.
pub(super) async fn lookup(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
) -> Result<(Option<Client>, Option<SignedIn>), ApiError> {
    let cookie_value = sessions::cookie_value(headers);
    let mut keys = Vec::new();
    let client_id = params
        .get("client_id")
        .filter(|id| id.len() <= clients::MAX_CLIENT_ID_LEN);
    if let Some(id) = client_id {
        keys.push((Table::Clients, clients::key(id)));
    }
    if let Some(v) = &cookie_value {
        keys.push((Table::Sessions, sessions::key(v)));
    }
    if keys.is_empty() {
        return Ok((None, None));
    }
    let mut client = None;
    let mut session = None;
    for (table, item) in state.store.get_many(&keys).await? {
        match table {
            Table::Clients => client = Some(clients::from_item(&item)?),
            Table::Sessions => {
                session = cookie_value
                    .clone()
                    .map(|cookie| sessions::from_item(&item).map(|session| SignedIn { cookie, session }))
                    .transpose()?
                    // A session from before email verification counts as signed out.
                    .filter(|s| s.session.verified)
            }
            _ => {}
        }
    }
    // A client identified by its metadata document URL, not cached yet: fetch it now.
    if let (None, Some(id)) = (&client, client_id) {
        use clients::document::{ResolveError, resolve};
        client = match resolve(&state.store, id, state.config.cimd_allow_loopback).await {
            Ok(found) => found,
            Err(ResolveError::Store(e)) => return Err(e.into()),
            // Unreachable or not: a client whose document this server cannot read is not a
            // client it knows, 400 `invalid_client` (RFC 6749 §4.1.2.1: shown, never redirected).
            // A client id names any host it likes, so no input may earn a 5xx here.
            Err(ResolveError::Document(e)) => {
                return Err(ApiError::bad_request(ErrorCode::InvalidClient, e.to_string()));
            }
        };
    }
    Ok((client, session))
}

/// Why a request cannot go on: a page to show, or an error the client may be told about.
pub(super) enum Refusal {
    Page(Box<Response>),
    /// The client and `redirect_uri` are verified; whether the error is redirected depends on
    /// the user's approval of the client ([`Ctx::error_reply`]).
    Redirect {
        client_id: String,
        redirect_uri: String,
        error: RedirectError,
    },
}

/// Identifies the client and validates the request.
pub(super) fn understand(ctx: &Ctx, client: Option<&Client>) -> Result<(Client, AuthorizeRequest), Refusal> {
    let page =
        |status, title: &str, message: &str| Refusal::Page(Box::new(ctx.finish(error_page(status, title, message))));
    let redirect_uri = request::identify(&ctx.params, client)
        .map_err(|PageError { title, message }| page(StatusCode::BAD_REQUEST, title, &message))?;
    let client = client
        .cloned()
        .ok_or_else(|| page(StatusCode::BAD_REQUEST, "Unknown application", ""))?;
    // Also checked at registration; checked again here for clients registered before the scheme
    // allow-list, so no stored record can still send the browser to `ms-msdt:` or the like.
    if redirect_uri::check(&redirect_uri).is_err() {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            "The address to return to is not one this server sends anyone to.",
        ));
    }
    match request::validate(
        &ctx.params,
        &client,
        redirect_uri.clone(),
        &ctx.urls,
        ctx.state.scopes(),
    ) {
        Ok(req) => Ok((client, req)),
        Err(error) => Err(Refusal::Redirect {
            client_id: client.client_id,
            redirect_uri,
            error,
        }),
    }
}

/// Whether `user_id` has a live consent for `client_id` and `resource`: the one store read
/// behind redirecting an error. A failed read counts as no (the error is then shown as a page).
pub(super) async fn approved(ctx: &Ctx, user_id: Option<&str>, client_id: &str, resource: &str) -> bool {
    let Some(user_id) = user_id else { return false };
    let found = consent::find_for(&ctx.state.store, user_id, client_id, resource).await;
    let now = ctx.state.store.clock().now();
    found
        .and_then(|item| consent::live(item.as_ref(), now, ctx.state.config.lifetimes.consent))
        .is_ok_and(|c| c.is_some())
}

/// An error for a validated request: redirected when `approved`, else a page.
pub(super) fn refuse(ctx: &Ctx, req: &AuthorizeRequest, approved: bool, error: &str, description: &str) -> Response {
    ctx.error_reply(approved, &req.redirect_uri, error, description, req.state.as_deref())
}

/// Issues a code for the user and sends the browser back to the client.
pub(super) async fn grant(
    ctx: &Ctx,
    req: &AuthorizeRequest,
    session: &sessions::Session,
) -> Result<Response, ApiError> {
    let record = AuthCode {
        user_id: session.user_id.clone(),
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scope.clone(),
        resource: req.resource.clone(),
        auth_time: session.auth_time,
    };
    let code = codes::issue(
        &ctx.state.store,
        &record,
        &req.code_challenge,
        ctx.state.config.lifetimes.auth_code,
    )
    .await?;
    Ok(ctx.finish(reply::success(
        &req.redirect_uri,
        &code,
        req.state.as_deref(),
        ctx.urls.issuer(),
        ctx.redirect_status(),
    )))
}
