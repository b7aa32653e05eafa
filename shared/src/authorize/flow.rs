//! The authorization endpoint's handlers: `GET /oauth/authorize` starts (or resumes) a request;
//! `POST /oauth/authorize` receives the sign-in, sign-up and consent forms; `POST /oauth/logout`
//! signs out from the consent screen.
//!
//! A request with a live session and remembered consent costs three store calls: client and
//! session in one batch read, the consent, and the new code. Remembered consent skips the page
//! only for clients whose identity the redirect proves (`consent::may_skip`, RFC 8252 §8.6).
//! Errors after the client and `redirect_uri` are verified are redirected only when the user has
//! a live consent for the client, or pressed Deny on our page (RFC 9700 §4.11.2).

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::consent;
use super::reply;
use super::request::{self, AuthorizeRequest, PageError, RedirectError};
use crate::accounts::{password, sessions, users};
use crate::app::AppState;
use crate::clients::redirect_uri;
use crate::clients::{self, Client};
use crate::crypto::{ct_eq, random_token};
use crate::form::{self, Params};
use crate::http::{ApiError, ClientIp};
use crate::pages;
use crate::resource;
use crate::scopes;
use crate::store::Table;
use crate::tokens::codes::{self, AuthCode};
use crate::urls::{self, Urls};

pub const LOGOUT_PATH: &str = "/oauth/logout";
/// Double-submit cookie for the sign-in forms, which are posted before any session exists.
const LOGIN_CSRF_COOKIE: &str = "__Host-csrf";

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

/// The login CSRF value of a request, and the `Set-Cookie` that plants a new one when it has none.
pub(super) fn login_csrf_cookie(headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(v) = cookie(headers, LOGIN_CSRF_COOKIE) {
        return (v, None);
    }
    let v = random_token();
    let set = format!("{LOGIN_CSRF_COOKIE}={v}; Path=/; Secure; HttpOnly; SameSite=Lax");
    (v, Some(set))
}

/// Double-submit check: the form echoes the login CSRF cookie.
pub(super) fn login_csrf_matches(headers: &HeaderMap, presented: Option<&str>) -> bool {
    let expected = cookie(headers, LOGIN_CSRF_COOKIE);
    matches!((&expected, presented), (Some(e), Some(p)) if ct_eq(e, p))
}

/// A cookie's value from the request's `Cookie` headers.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

pub(super) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    pages::html(status, pages::error(title, message))
}

/// An internal failure (the store, mostly) as a page: the browser is a person, not a client.
/// The error's headers (a 503's `Retry-After`) come along.
pub(super) fn failure_page(e: ApiError) -> Response {
    let mut res = error_page(e.status, "Something went wrong", &e.description);
    for (name, value) in &e.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            res.headers_mut().insert(name.clone(), v);
        }
    }
    res
}

/// Reads the client and the session in one store call.
async fn lookup(
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
        use clients::document::{DocumentError, ResolveError, resolve};
        client = match resolve(&state.store, id, state.config.cimd_allow_loopback).await {
            Ok(found) => found,
            Err(ResolveError::Store(e)) => return Err(e.into()),
            Err(ResolveError::Document(e @ DocumentError::Unreachable)) => {
                return Err(ApiError::new(StatusCode::BAD_GATEWAY, "invalid_client", e.to_string()));
            }
            Err(ResolveError::Document(e)) => return Err(ApiError::bad_request("invalid_client", e.to_string())),
        };
    }
    Ok((client, session))
}

/// Why a request cannot go on: a page to show, or an error the client may be told about.
enum Refusal {
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
fn understand(ctx: &Ctx, client: Option<&Client>) -> Result<(Client, AuthorizeRequest), Refusal> {
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
async fn approved(ctx: &Ctx, user_id: Option<&str>, client_id: &str, resource: &str) -> bool {
    let Some(user_id) = user_id else { return false };
    let found = consent::find_for(&ctx.state.store, user_id, client_id, resource).await;
    let now = ctx.state.store.clock().now();
    found
        .and_then(|item| consent::live(item.as_ref(), now, ctx.state.config.lifetimes.consent))
        .is_ok_and(|c| c.is_some())
}

/// An error for a validated request: redirected when `approved`, else a page.
fn refuse(ctx: &Ctx, req: &AuthorizeRequest, approved: bool, error: &str, description: &str) -> Response {
    ctx.error_reply(approved, &req.redirect_uri, error, description, req.state.as_deref())
}

pub(super) fn login_page(
    ctx: &mut Ctx,
    client: &Client,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = ctx.login_csrf();
    let hidden = ctx.hidden();
    let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let providers: Vec<(&str, &str)> = ctx
        .state
        .config
        .providers
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let page = pages::login(&pages::LoginPage {
        action: urls::AUTHORIZE_PATH,
        hidden: &hidden,
        client_name: client.display_name(),
        email,
        error,
        signup_available: true,
        providers: &providers,
        csrf: &csrf,
    });
    ctx.finish(pages::html(status, page))
}

pub(super) fn signup_page(
    ctx: &mut Ctx,
    client: &Client,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = ctx.login_csrf();
    let hidden = ctx.hidden();
    let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = pages::signup(&pages::SignupPage {
        action: urls::AUTHORIZE_PATH,
        hidden: &hidden,
        client_name: client.display_name(),
        email,
        error,
        password_rules: password::RULES,
        csrf: &csrf,
    });
    ctx.finish(pages::html(status, page))
}

async fn consent_page(
    ctx: &Ctx,
    client: &Client,
    req: &AuthorizeRequest,
    signed_in: &SignedIn,
) -> Result<Response, ApiError> {
    let session = &signed_in.session;
    let secret = sessions::csrf_secret(&signed_in.cookie);
    let user = users::get(&ctx.state.store, &session.user_id).await?;
    let email = user.map(|u| u.email).unwrap_or_default();
    let redirect_host = pages::redirect_target(&req.redirect_uri);
    let hidden = ctx.hidden();
    let mut hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let logout_csrf = consent::logout_token(&secret);
    hidden.push(("logout_csrf", &logout_csrf));
    let csrf = consent::csrf_token(&secret, req);
    let described = ctx.state.scopes().describe(&req.scope);
    // A metadata-document client names itself; the host that serves its document is what vouches.
    let client_host = match url::Url::parse(&client.client_id) {
        Ok(u) if clients::document::is_document_id(&client.client_id, true) => u.host_str().map(str::to_owned),
        _ => None,
    };
    let page = pages::consent(&pages::ConsentPage {
        action: urls::AUTHORIZE_PATH,
        hidden: &hidden,
        client_name: client.display_name(),
        client_host: client_host.as_deref(),
        redirect_host: &redirect_host,
        user_email: &email,
        logout_action: LOGOUT_PATH,
        scopes: &described,
        // Every client registered for the refresh grant gets a refresh token, `offline_access`
        // or not (see `token_endpoint::issue`): say so whenever that is the case.
        offline_access: client.allows_grant_type("refresh_token")
            || req.scope.iter().any(|s| s == scopes::OFFLINE_ACCESS),
        csrf: &csrf,
    });
    Ok(ctx.finish(pages::html(StatusCode::OK, page)))
}

/// Issues a code for the user and sends the browser back to the client.
async fn grant(ctx: &Ctx, req: &AuthorizeRequest, session: &sessions::Session) -> Result<Response, ApiError> {
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

/// A session and the cookie that names it (CSRF secrets derive from the cookie).
pub(super) struct SignedIn {
    cookie: String,
    session: sessions::Session,
}

/// With a signed-in user: skip consent if remembered and the client's identity is assured,
/// else ask (or refuse, under prompt=none).
async fn after_sign_in(
    ctx: &Ctx,
    client: &Client,
    req: &AuthorizeRequest,
    signed_in: &SignedIn,
) -> Result<Response, ApiError> {
    let session = &signed_in.session;
    if !req.prompt.consent {
        let remembered = consent::find(&ctx.state.store, &session.user_id, req).await?;
        let now = ctx.state.store.clock().now();
        let live = consent::live(remembered.as_ref(), now, ctx.state.config.lifetimes.consent)?;
        let covered = live.as_ref().is_some_and(|c| consent::covers(c, req));
        // RFC 8252 §8.6: a loopback or private-use redirect does not prove who is asking.
        if covered && consent::may_skip(client, &req.redirect_uri) {
            return grant(ctx, req, session).await;
        }
        if req.prompt.none {
            return Ok(refuse(
                ctx,
                req,
                live.is_some(),
                "consent_required",
                "the user has not approved this request",
            ));
        }
    }
    consent_page(ctx, client, req, signed_in).await
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

/// Login CSRF: a sign-in form must echo the cookie this browser was given with the form.
pub(super) fn login_csrf_valid(ctx: &Ctx) -> bool {
    login_csrf_matches(&ctx.headers, ctx.params.get("csrf"))
}

/// Reads a form body for the HTML endpoints, answering an error page rather than JSON.
pub(super) async fn read_form(req: Request) -> Result<(HeaderMap, Params), Response> {
    let headers = req.headers().clone();
    if !form::content_type_is(&headers, "application/x-www-form-urlencoded") {
        return Err(error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form could not be read",
            "Expected a form submission.",
        ));
    }
    let body = form::read_body(req)
        .await
        .map_err(|e| error_page(e.status, "This form could not be read", &e.description))?;
    let params = Params::parse(&body)
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, "This form could not be read", &e.description))?;
    Ok((headers, params))
}

/// Starts a session for a user who just signed in or up, then carries on with the request.
pub(super) async fn signed_in(
    ctx: &mut Ctx,
    client: &Client,
    req: &AuthorizeRequest,
    user_id: &str,
) -> Result<Response, ApiError> {
    // Every way of signing in ends here: an account an operator disabled gets no session.
    if users::get(&ctx.state.store, user_id)
        .await?
        .is_some_and(|u| users::is_disabled(&u))
    {
        return Ok(super::email::refusal_page(
            ctx,
            &crate::accounts::policy::Refusal::Disabled,
        ));
    }
    let ttl = ctx.state.config.lifetimes.session;
    let (cookie, session) = sessions::create(&ctx.state.store, user_id, ttl).await?;
    ctx.set_cookies.push(sessions::set_cookie(&cookie, ttl));
    after_sign_in(ctx, client, req, &SignedIn { cookie, session }).await
}

async fn authorize_post(State(state): State<AppState>, urls: Urls, ClientIp(ip): ClientIp, req: Request) -> Response {
    let (headers, params) = match read_form(req).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (mut ctx, client, req, session) = match Ctx::open(state, urls, params, headers, true).await {
        Ok(opened) => opened,
        Err(res) => return *res,
    };
    let email = ctx.params.get("email").unwrap_or_default().to_owned();
    if let Some(provider) = ctx.params.get("provider").map(str::to_owned) {
        if !login_csrf_valid(&ctx) {
            return login_page(
                &mut ctx,
                &client,
                "",
                Some("This form expired. Please try again."),
                StatusCode::FORBIDDEN,
            );
        }
        return super::upstream::start(&mut ctx, &provider).await;
    }
    let action = ctx.params.get("action").unwrap_or_default().to_owned();
    let result = match action.as_str() {
        "show_signup" => Ok(signup_page(&mut ctx, &client, &email, None, StatusCode::OK)),
        "show_login" => Ok(login_page(&mut ctx, &client, &email, None, StatusCode::OK)),
        "login" | "signup" => {
            if !login_csrf_valid(&ctx) {
                let msg = Some("This form expired. Please try again.");
                return if action == "login" {
                    login_page(&mut ctx, &client, &email, msg, StatusCode::FORBIDDEN)
                } else {
                    signup_page(&mut ctx, &client, &email, msg, StatusCode::FORBIDDEN)
                };
            }
            let password = ctx.params.get("password").unwrap_or_default().to_owned();
            if action == "login" {
                match users::log_in(&ctx.state.store, &email, &password, ip).await {
                    Ok(user) => match ctx.state.config.signup.allows_email(&user.email) {
                        Err(refusal) => Ok(super::email::refusal_page(&ctx, &refusal)),
                        // Until the address is proved, the account cannot complete an authorization.
                        Ok(()) if !user.email_verified => {
                            super::email::start_verification(&mut ctx, &client, &user.id, &email).await
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
            } else {
                super::email::sign_up(&mut ctx, &client, &email, &password, ip).await
            }
        }
        "verify_email" => {
            if !login_csrf_valid(&ctx) {
                return super::email::verify_page(&mut ctx, &client, Some("This form expired. Please try again."))
                    .await
                    .unwrap_or_else(failure_page);
            }
            match super::email::verify(&mut ctx, &client).await {
                Ok(super::email::Verified::User(user_id)) => signed_in(&mut ctx, &client, &req, &user_id).await,
                Ok(super::email::Verified::Page(res)) => Ok(res),
                Err(e) => Err(e),
            }
        }
        "resend_code" => {
            if !login_csrf_valid(&ctx) {
                return super::email::verify_page(&mut ctx, &client, Some("This form expired. Please try again."))
                    .await
                    .unwrap_or_else(failure_page);
            }
            super::email::resend(&mut ctx, &client).await
        }
        "show_reset" => Ok(super::email::reset_request_page(&mut ctx, &email, None, StatusCode::OK)),
        "request_reset" => {
            if !login_csrf_valid(&ctx) {
                let msg = Some("This form expired. Please try again.");
                return super::email::reset_request_page(&mut ctx, &email, msg, StatusCode::FORBIDDEN);
            }
            super::email::request_reset(&mut ctx, &email, ip).await
        }
        "approve" | "deny" => match session {
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
                if action == "deny" {
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
        _ => Ok(error_page(
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            "Unknown action.",
        )),
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
            get(super::email::reset_get).post(super::email::reset_post),
        )
        .route(crate::accounts::invites::PATH, get(super::email::invite_get))
        .route(
            super::account::PATH,
            get(super::account::get).post(super::account::post),
        )
        .route(super::upstream::CALLBACK_ROUTE, get(super::upstream::callback))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_server_answers_the_page_503_with_retry_after() {
        // What a sign-in or sign-up gets when every argon2 slot stays taken.
        let res = failure_page(ApiError::unavailable(users::LoginError::Busy.to_string()));
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
