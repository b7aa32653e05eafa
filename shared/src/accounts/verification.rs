//! Email verification for password accounts: a six-digit code mailed at sign-up (or at a sign-in
//! before the address was verified), entered on the "check your email" page.
//!
//! The pending verification is bound to the browser that asked: a random 256-bit cookie
//! ([`COOKIE`]) names a ticket in `Table::Tickets` stored under the cookie's SHA-256, and the
//! ticket keeps only an HMAC of the code keyed by the cookie. So a copy of the table holds no
//! usable code (a six-digit code's plain hash would fall to a million guesses), and a code is good
//! only in the browser that signed up. A ticket lives [`CODE_TTL`], allows [`MAX_ATTEMPTS`]
//! guesses per code (counted atomically *before* the comparison, so parallel guesses cannot
//! overshoot), and [`MAX_SENDS`] codes, at least [`RESEND_AFTER`] apart; an address gets at most
//! [`SENDS_PER_HOUR`] codes an hour however many tickets ask.
//!
//! A sign-up for an address that already has an account gets a decoy ticket and a "you already
//! have an account" mail instead of a code: the page, the cookie and the timing class are the
//! same as for a new account, so sign-up does not reveal which addresses are registered.
//!
//! Not for: the pages (see `pages`) or the session that follows a success (see `authorize`).

use serde::{Deserialize, Serialize};

use super::users::{self, account_tag};
use crate::crypto::{ct_eq, hmac_b64, random_bytes, random_token, sha256_b64};
use crate::mail::{MailError, Mailer, Message};
use crate::store::{Consumed, Store, StoreError, Table, typed};

/// Names the browser's pending verification. `__Host-`: Secure, Path=/, no Domain.
pub const COOKIE: &str = "__Host-verify";
/// How long a code (and the ticket) lives.
pub const CODE_TTL: i64 = 15 * 60;
/// Guesses allowed per code.
pub const MAX_ATTEMPTS: u64 = 5;
/// Codes one ticket may send (the first and the resends).
pub const MAX_SENDS: u32 = 5;
/// Least seconds between two sends of one ticket.
pub const RESEND_AFTER: i64 = 30;
/// Codes one address receives per hour, across every ticket: bounds both mail bombing and the
/// guesses an attacker who signs in again and again could make (5 per code).
pub const SENDS_PER_HOUR: u64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ticket {
    /// The account to verify; `None` for a sign-up whose address already has an account.
    user_id: Option<String>,
    email: String,
    /// HMAC of the code under the browser's cookie.
    code_mac: String,
    sends: u32,
    sent_at: i64,
}

/// Who a verification is for.
pub enum Purpose<'a> {
    /// A new or unverified account: mail it a code.
    Account { user_id: &'a str },
    /// An address that already has an account: mail it a notice, not a code.
    Existing,
}

/// The deployment as mails name it.
pub struct Site<'a> {
    pub name: &'a str,
    pub issuer: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("That code is not right. Check the email and try again.")]
    Wrong,
    #[error("This code has expired or was already used. Send a new code, or start again.")]
    Expired,
    #[error("Too many wrong codes. Send a new code to try again.")]
    TooManyAttempts,
    #[error("A code was sent moments ago. Wait {0} seconds before asking for another.")]
    TooSoon(i64),
    #[error("Too many codes were sent. Start again in a while.")]
    TooManySends,
    #[error("Verification is temporarily unavailable; try again shortly.")]
    Store(#[from] StoreError),
    #[error("The email could not be sent; try again shortly.")]
    Mail(#[from] MailError),
}

fn ticket_key(cookie: &str) -> String {
    format!("verify#{}", sha256_b64(cookie.as_bytes()))
}

fn code_mac(cookie: &str, code: &str) -> String {
    hmac_b64(cookie.as_bytes(), format!("email verification code {code}").as_bytes())
}

/// Six decimal digits, uniform (rejection sampling, so no digit is favoured).
fn new_code() -> String {
    loop {
        let n = u32::from_be_bytes(random_bytes::<4>());
        // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The cookie value a request carries, if it looks like one we set.
pub fn cookie_value(headers: &http::HeaderMap) -> Option<String> {
    crate::http::token_cookie(headers, COOKIE)
}

pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={CODE_TTL}")
}

pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn code_message(site: &Site, to: &str, code: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: format!("Your code for {}: {code}", site.name),
        text: format!(
            "Your verification code is: {code}\n\n\
             Enter it on the page where you signed up for {name} ({issuer}). It works for {mins} minutes.\n\n\
             If you did not sign up, ignore this email: nobody can use the account without this code.",
            name = site.name,
            issuer = site.issuer,
            mins = CODE_TTL / 60,
        ),
    }
}

fn existing_message(site: &Site, to: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: format!("You already have an account at {}", site.name),
        text: format!(
            "Someone, maybe you, tried to create an account at {name} ({issuer}) with this address, \
             which already has one.\n\n\
             If it was you, sign in instead, or use \"Forgot your password?\" on the sign-in page.\n\n\
             If it was not you, ignore this email: nothing was changed.",
            name = site.name,
            issuer = site.issuer,
        ),
    }
}

/// Counts one send to `email` this hour; false past [`SENDS_PER_HOUR`].
async fn within_hourly_sends(store: &Store, email: &str) -> Result<bool, StoreError> {
    let now = store.clock().now();
    let hour = now.div_euclid(3600);
    let key = format!("verify:sends:{}:{hour}", account_tag(email));
    Ok(store.increment(Table::Limits, &key, (hour + 1) * 3600).await? <= SENDS_PER_HOUR)
}

/// Starts a verification for `email` and mails it. Returns the cookie value to set.
pub async fn start(
    store: &Store,
    mailer: &dyn Mailer,
    purpose: Purpose<'_>,
    email: &str,
    site: &Site<'_>,
) -> Result<String, VerifyError> {
    let cookie = random_token();
    let now = store.clock().now();
    let (user_id, code, message) = match purpose {
        Purpose::Account { user_id } => {
            let code = new_code();
            let message = code_message(site, email, &code);
            (Some(user_id.to_owned()), code, message)
        }
        // A code nobody will ever see: the decoy's MAC matches nothing anyone can type.
        Purpose::Existing => (None, random_token(), existing_message(site, email)),
    };
    let ticket = Ticket {
        user_id,
        email: email.to_owned(),
        code_mac: code_mac(&cookie, &code),
        sends: 1,
        sent_at: now,
    };
    let mut item = typed::item(ticket_key(&cookie), &ticket)?;
    item.expires_at = Some(now + CODE_TTL);
    store.put(Table::Tickets, item).await?;
    if within_hourly_sends(store, email).await? {
        mailer.send(&message).await?;
        tracing::info!(event = "verification_mail_sent", account = %account_tag(email));
    } else {
        // The page looks the same; the address is simply not mailed again this hour.
        tracing::warn!(event = "verification_mail_suppressed", account = %account_tag(email));
    }
    Ok(cookie)
}

/// The address a pending verification was sent to (for the page), if the ticket is live.
pub async fn pending_email(store: &Store, cookie: &str) -> Result<Option<String>, StoreError> {
    Ok(match store.get(Table::Tickets, &ticket_key(cookie)).await? {
        Some(item) => Some(typed::body::<Ticket>(&item)?.email),
        None => None,
    })
}

/// Sends a new code for the browser's pending verification.
pub async fn resend(store: &Store, mailer: &dyn Mailer, cookie: &str, site: &Site<'_>) -> Result<(), VerifyError> {
    let key = ticket_key(cookie);
    let item = store.get(Table::Tickets, &key).await?.ok_or(VerifyError::Expired)?;
    let mut ticket: Ticket = typed::body(&item)?;
    let now = store.clock().now();
    if ticket.sends >= MAX_SENDS {
        return Err(VerifyError::TooManySends);
    }
    let wait = ticket.sent_at + RESEND_AFTER - now;
    if wait > 0 {
        return Err(VerifyError::TooSoon(wait));
    }
    let message = match &ticket.user_id {
        Some(_) => {
            let code = new_code();
            ticket.code_mac = code_mac(cookie, &code);
            code_message(site, &ticket.email, &code)
        }
        None => existing_message(site, &ticket.email),
    };
    ticket.sends += 1;
    ticket.sent_at = now;
    let mut next = typed::item(key, &ticket)?;
    next.expires_at = Some(now + CODE_TTL);
    // A concurrent resend won the swap: that one mails, this one waits like any early resend.
    if !store.compare_and_swap(Table::Tickets, next, item.version).await? {
        return Err(VerifyError::TooSoon(RESEND_AFTER));
    }
    if !within_hourly_sends(store, &ticket.email).await? {
        return Err(VerifyError::TooManySends);
    }
    mailer.send(&message).await?;
    tracing::info!(event = "verification_mail_sent", account = %account_tag(&ticket.email), resend = true);
    Ok(())
}

/// Checks a typed code. On success the account is marked verified and its user id returned; the
/// caller uses the ticket up with [`finish`] once the browser is signed in.
pub async fn check(store: &Store, cookie: &str, code: &str) -> Result<String, VerifyError> {
    let key = ticket_key(cookie);
    let item = store.get(Table::Tickets, &key).await?.ok_or(VerifyError::Expired)?;
    let ticket: Ticket = typed::body(&item)?;
    // The attempt is counted before the code is compared, so a burst of parallel guesses gets
    // exactly MAX_ATTEMPTS comparisons. A new code (a resend) gets a counter of its own.
    let counter = format!("verify:try:{key}:{}", ticket.sends);
    let expires = item.expires_at.unwrap_or(store.clock().now() + CODE_TTL);
    let attempts = store.increment(Table::Limits, &counter, expires).await?;
    if attempts > MAX_ATTEMPTS {
        tracing::warn!(event = "verification_attempts_exceeded", account = %account_tag(&ticket.email));
        return Err(VerifyError::TooManyAttempts);
    }
    let typed = code.trim().replace([' ', '-'], "");
    let matches = typed.len() == 6 && ct_eq(&code_mac(cookie, &typed), &ticket.code_mac);
    let Some(user_id) = ticket.user_id.filter(|_| matches) else {
        tracing::info!(event = "verification_code_wrong", account = %account_tag(&ticket.email), attempts);
        return Err(VerifyError::Wrong);
    };
    users::mark_verified(store, &user_id).await?;
    Ok(user_id)
}

/// Uses up the ticket of a verification that [`check`] accepted, once the browser is signed in.
/// Not before: if the store fails between the check and the sign-in, the ticket is still there
/// for the retry, where consuming it first would leave a verified account, no session and no
/// code (docs/RELIABILITY.md). Returns whether the ticket was still there.
pub async fn finish(store: &Store, cookie: &str) -> Result<bool, StoreError> {
    Ok(matches!(
        store.consume(Table::Tickets, &ticket_key(cookie), None).await?,
        Consumed::Taken(_)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let c = new_code();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_code_mac_depends_on_the_browser_cookie() {
        assert_ne!(code_mac("cookie-a", "123456"), code_mac("cookie-b", "123456"));
        assert_eq!(code_mac("cookie-a", "123456"), code_mac("cookie-a", "123456"));
    }
}
