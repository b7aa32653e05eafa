//! What follows a sign-in, whichever way it happened (password, verification code, upstream):
//! the session, then remembered consent, the consent page, or a refusal under `prompt=none`.

use axum::response::Response;

use super::consent;
use super::request::AuthorizeRequest;
use super::screens::consent_page;
use super::transaction::{Ctx, SignedIn, grant, refuse};
use crate::accounts::{sessions, users};
use crate::clients::Client;
use crate::http::ApiError;

/// With a signed-in user: skip consent if remembered and the client's identity is assured,
/// else ask (or refuse, under prompt=none).
pub(super) async fn after_sign_in(
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
