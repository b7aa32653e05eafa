//! Login throttling, in fixed windows, with counters in `Table::Limits`:
//! - per (account, source address): strict. Every attempt is counted *before* the password is
//!   checked, by an atomic increment whose returned count decides, so a burst of concurrent
//!   guesses cannot overshoot: past [`MAX_PAIR_ATTEMPTS`] the source is refused on that account
//!   until the window ends. A success forgives that pair's earlier attempts.
//! - per source address, across accounts: strict, counted the same way ([`MAX_IP_ATTEMPTS`]),
//!   against spraying one password over many accounts.
//! - per account: soft. Failures are counted after the check; past [`MAX_ACCOUNT_FAILURES`],
//!   every attempt on the account waits [`SLOW_DOWN`] before its password is checked, but a
//!   correct password is still accepted. A hard per-account lock would let anyone lock the
//!   owner out by failing five times; the pair limit already bounds each source.
//!
//! Not for: verifying passwords (see `password`) or deciding what a login returns (see `users`).

use std::net::IpAddr;
use std::time::Duration;

use crate::crypto;
use crate::store::{Item, Store, StoreResult, Table};

/// Length of one counting window.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Attempts allowed per (account, source) per window; the next is refused unchecked. Stops
/// online guessing from one source.
pub const MAX_PAIR_ATTEMPTS: u64 = 5;
/// Attempts allowed per source address per window, across all accounts, successes included (a
/// success is not known until after the count). High enough for a shared office NAT.
pub const MAX_IP_ATTEMPTS: u64 = 100;
/// Failed logins on one account per window (from any source) after which its attempts slow down.
pub const MAX_ACCOUNT_FAILURES: u64 = 5;
/// The wait before checking a password for an account past [`MAX_ACCOUNT_FAILURES`]: it costs
/// the owner a moment, and a many-source guesser a multiple of it per guess.
pub const SLOW_DOWN: Duration = Duration::from_secs(2);

/// The counters one login attempt is judged by, in the current window.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginCounters {
    account: String,
    pair: String,
    ip: Option<String>,
    window_end: i64,
}

/// What counting an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// This attempt's number for its (account, source) pair in the window.
    pair_count: u64,
    /// `Some(retry_after_secs)` when the attempt is over a strict limit.
    refused: Option<i64>,
}

impl Attempt {
    /// `Err(retry_after_secs)` when the attempt must be refused without checking the password.
    pub fn verdict(&self) -> Result<(), i64> {
        self.refused.map_or(Ok(()), Err)
    }
}

impl LoginCounters {
    /// `email` must be normalised, so every spelling of one address shares a counter.
    pub fn new(email: &str, ip: Option<IpAddr>, now: i64) -> Self {
        let window = now.div_euclid(WINDOW_SECS);
        // The address is hashed so the limits table holds no email addresses.
        let account_hash = crypto::sha256_b64(email.as_bytes());
        let source = ip.map(source);
        LoginCounters {
            account: format!("login:acct:{account_hash}:{window}"),
            pair: format!(
                "login:pair:{account_hash}:{}:{window}",
                source.as_deref().unwrap_or("unknown")
            ),
            ip: source.map(|s| format!("login:ip:{s}:{window}")),
            window_end: (window + 1) * WINDOW_SECS,
        }
    }

    /// The account counter's key, for a `get_many` that carries other reads along.
    pub fn account_key(&self) -> (Table, String) {
        (Table::Limits, self.account.clone())
    }

    /// Whether the account counter among `found` (the answer to a read including
    /// [`Self::account_key`]) is past [`MAX_ACCOUNT_FAILURES`]: check slowly.
    pub fn slow_down(&self, found: &[(Table, Item)]) -> bool {
        found
            .iter()
            .find(|(t, item)| *t == Table::Limits && item.key == self.account)
            .and_then(|(_, item)| item.body.as_u64())
            .is_some_and(|n| n >= MAX_ACCOUNT_FAILURES)
    }

    /// Counts this attempt against the pair and the source address, atomically, before any
    /// password is checked; the counts returned decide. Two calls, made concurrently.
    pub async fn count_attempt(&self, store: &Store, now: i64) -> StoreResult<Attempt> {
        let pair = store.increment(Table::Limits, &self.pair, self.window_end);
        let (pair_count, over_ip) = match &self.ip {
            Some(ip) => {
                let ip = store.increment(Table::Limits, ip, self.window_end);
                let (p, i) = tokio::join!(pair, ip);
                (p?, i? > MAX_IP_ATTEMPTS)
            }
            None => (pair.await?, false),
        };
        let refused = (pair_count > MAX_PAIR_ATTEMPTS || over_ip).then(|| (self.window_end - now).max(1));
        Ok(Attempt { pair_count, refused })
    }

    /// Counts one failed login against the account (the soft limit).
    pub async fn record_failure(&self, store: &Store) -> StoreResult<()> {
        store
            .increment(Table::Limits, &self.account, self.window_end)
            .await
            .map(|_| ())
    }

    /// After a correct password: forgives the pair's attempts, so the owner's own logins never
    /// add up to a refusal. Nothing to do (and no store call) when this was the pair's first.
    pub async fn record_success(&self, store: &Store, attempt: &Attempt) -> StoreResult<()> {
        if attempt.pair_count > 1 {
            store.delete(Table::Limits, &self.pair).await?;
        }
        Ok(())
    }
}

/// The source a counter is kept for: an IPv4 address, or an IPv6 address's /64, because one host
/// is usually given a whole /64 and could otherwise rotate through it.
pub fn source(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_in_one_64_share_a_counter() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source(a), source(b));
        assert_ne!(source(a), source(c));
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_the_ipv4_address() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(source(mapped), source(v4));
    }
}
