//! Password reset by email: a single-use link with a 256-bit token, stored only as its SHA-256,
//! living [`TOKEN_TTL`].
//!
//! A request answers the same whatever the address: for an account, a link; for an unknown
//! address, a mail saying there is no account (the person may have used another address). Both
//! paths read one record and send one mail, so status, body and timing class match and a reset
//! never reveals which addresses are registered. Requests are throttled per source address and per
//! target address, which also bounds how often anyone can make us mail a stranger.
//!
//! Opening the link only shows the form (mail scanners prefetch links); posting it consumes the
//! token, sets the new password, marks the email verified (the link proved the mailbox), and ends
//! every session of the user, logged as a security event.
//!
//! Not for: the pages (see `pages`) or password rules (see `password`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::password::WeakPassword;
use super::sessions;
use super::users::{self, SignupError, account_tag, normalize_email};
use super::verification::Site;
use crate::crypto::{random_token, sha256_b64};
use crate::mail::{MailError, Mailer, Message};
use crate::store::{Consumed, Store, StoreError, Table, typed};

pub const TOKEN_TTL: i64 = 30 * 60;
/// Reset requests per source address per hour.
pub const PER_SOURCE_PER_HOUR: u64 = 10;
/// Reset mails per target address per hour.
pub const PER_ADDRESS_PER_HOUR: u64 = 3;
/// The path of the link's page.
pub const PATH: &str = "/oauth/reset";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetTicket {
    pub user_id: String,
    pub email: String,
    /// The authorization request the person was in, to resume after the reset.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    #[error("Too many reset requests. Try again in {} minutes.", (*.0 + 59) / 60)]
    Throttled(i64),
    #[error("This reset link has expired or was already used. Ask for a new one.")]
    Expired,
    #[error("{0}")]
    WeakPassword(WeakPassword),
    #[error("Password reset is temporarily unavailable; try again shortly.")]
    Store(#[from] StoreError),
    #[error("The email could not be sent; try again shortly.")]
    Mail(#[from] MailError),
    #[error("Password reset is temporarily unavailable; try again shortly.")]
    Hashing,
}

fn key(token: &str) -> String {
    format!("reset#{}", sha256_b64(token.as_bytes()))
}

fn source(ip: Option<IpAddr>) -> String {
    ip.map(super::throttle::source).unwrap_or_else(|| "unknown".into())
}

/// Asks for a reset link for `raw_email`. `Ok(())` whether or not the address has an account.
pub async fn request(
    store: &Store,
    mailer: &dyn Mailer,
    raw_email: &str,
    ip: Option<IpAddr>,
    params: Vec<(String, String)>,
    site: &Site<'_>,
) -> Result<String, ResetError> {
    let email = normalize_email(raw_email).map_err(|_| ResetError::InvalidEmail)?;
    let now = store.clock().now();
    let hour = now.div_euclid(3600);
    let window_end = (hour + 1) * 3600;
    let by_source = store
        .increment(Table::Limits, &format!("reset:ip:{}:{hour}", source(ip)), window_end)
        .await?;
    let by_address = store
        .increment(
            Table::Limits,
            &format!("reset:acct:{}:{hour}", account_tag(&email)),
            window_end,
        )
        .await?;
    if by_source > PER_SOURCE_PER_HOUR || by_address > PER_ADDRESS_PER_HOUR {
        tracing::warn!(event = "password_reset_throttled", account = %account_tag(&email));
        return Err(ResetError::Throttled((window_end - now).max(1)));
    }
    let message = match users::owner_of(store, &email).await? {
        Some(user_id) => {
            let token = random_token();
            let mut item = typed::item(
                key(&token),
                &ResetTicket {
                    user_id: user_id.clone(),
                    email: email.clone(),
                    params,
                },
            )?;
            item.expires_at = Some(now + TOKEN_TTL);
            store.put(Table::Tickets, item).await?;
            tracing::info!(event = "password_reset_requested", user_id = %user_id);
            Message {
                to: email.clone(),
                subject: format!("Reset your password for {}", site.name),
                text: format!(
                    "To choose a new password for {name} ({issuer}), open this link within {mins} minutes:\n\n\
                     {issuer}{PATH}?token={token}\n\n\
                     If you did not ask for this, ignore this email: your password stays as it is.",
                    name = site.name,
                    issuer = site.issuer,
                    mins = TOKEN_TTL / 60,
                ),
            }
        }
        None => Message {
            to: email.clone(),
            subject: format!("Password reset for {}", site.name),
            text: format!(
                "Someone, maybe you, asked to reset the password of an account at {name} ({issuer}) for \
                 this address, but there is no account with it. If you have an account, you may have \
                 used another address.\n\nIf it was not you, ignore this email.",
                name = site.name,
                issuer = site.issuer,
            ),
        },
    };
    mailer.send(&message).await?;
    Ok(email)
}

/// The live ticket behind a link, without using it up (to show the form).
pub async fn peek(store: &Store, token: &str) -> Result<Option<ResetTicket>, StoreError> {
    if token.len() != 43 {
        return Ok(None);
    }
    match store.get(Table::Tickets, &key(token)).await? {
        Some(item) => Ok(Some(typed::body(&item)?)),
        None => Ok(None),
    }
}

/// Sets the new password through a link, once. Returns the ticket (for its pending request).
pub async fn complete(store: &Store, token: &str, new_password: &str) -> Result<ResetTicket, ResetError> {
    let ticket = peek(store, token).await?.ok_or(ResetError::Expired)?;
    // The rules first, so a weak password leaves the link usable for a second try.
    super::password::check_rules(new_password, &ticket.email).map_err(ResetError::WeakPassword)?;
    let Consumed::Taken(_) = store.consume(Table::Tickets, &key(token), None).await? else {
        return Err(ResetError::Expired);
    };
    match users::set_password(store, &ticket.user_id, &ticket.email, new_password).await {
        Ok(true) => {}
        Ok(false) => return Err(ResetError::Expired),
        Err(SignupError::WeakPassword(w)) => return Err(ResetError::WeakPassword(w)),
        Err(SignupError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(ResetError::Hashing),
    }
    users::mark_verified(store, &ticket.user_id).await?;
    let ended = sessions::end_all(store, &ticket.user_id).await?;
    tracing::warn!(event = "password_reset", user_id = %ticket.user_id, sessions_ended = ended);
    Ok(ticket)
}
