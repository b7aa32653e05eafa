//! The pages of the interaction: sign-in, sign-up and consent, each carrying the pending request
//! as hidden fields and a CSRF token.

use axum::response::Response;
use http::StatusCode;

use super::consent;
use super::request::AuthorizeRequest;
use super::transaction::{Ctx, SignedIn};
use crate::accounts::{password, sessions, users};
use crate::clients::{self, Client};
use crate::endpoints::pages;
use crate::http::ApiError;
use crate::scopes;
use crate::urls;

/// Where the consent page's sign-out form posts.
pub const LOGOUT_PATH: &str = "/oauth/logout";

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

pub(super) async fn consent_page(
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
        // or not (see `endpoints::token::issue`): say so whenever that is the case.
        offline_access: client.allows_grant_type("refresh_token")
            || req.scope.iter().any(|s| s == scopes::OFFLINE_ACCESS),
        csrf: &csrf,
    });
    Ok(ctx.finish(pages::html(StatusCode::OK, page)))
}
