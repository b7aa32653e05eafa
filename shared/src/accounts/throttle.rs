//! Login throttling: counters of failed logins per account and per source address, in fixed
//! windows, kept in `Table::Limits`.
//!
//! Only failures count; checking reads the counters without bumping them, so a user who types
//! the right password is never slowed by their own successful logins. The check and the count
//! are separate calls, so a burst of concurrent guesses can overshoot a limit by the number in
//! flight; each guess still costs the attacker an argon2 verify on our side.
//!
//! Not for: verifying passwords (see `password`) or deciding what a login returns (see `users`).

use std::net::IpAddr;

use crate::crypto;
use crate::store::{Item, Store, StoreResult, Table};

/// Length of one counting window.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failed logins allowed per account per window; the next attempt, right password or not, is
/// refused until the window ends. Stops online guessing against one account.
pub const MAX_ACCOUNT_FAILURES: u64 = 5;
/// Failed logins allowed per source address per window, across all accounts. Stops one source
/// spraying a common password over many accounts; high enough for a shared office NAT.
pub const MAX_IP_FAILURES: u64 = 50;

/// The counters one login attempt is judged by, in the current window.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginCounters {
    account: String,
    ip: Option<String>,
    window_end: i64,
}

impl LoginCounters {
    /// `email` must be normalised, so every spelling of one address shares a counter.
    pub fn new(email: &str, ip: Option<IpAddr>, now: i64) -> Self {
        let window = now.div_euclid(WINDOW_SECS);
        // The address is hashed so the limits table holds no email addresses.
        let account = format!("login:acct:{}:{window}", crypto::sha256_b64(email.as_bytes()));
        let ip = ip.map(|ip| format!("login:ip:{}:{window}", source(ip)));
        LoginCounters {
            account,
            ip,
            window_end: (window + 1) * WINDOW_SECS,
        }
    }

    /// The counters' keys, for a `get_many` that may carry other reads along.
    pub fn keys(&self) -> Vec<(Table, String)> {
        let mut keys = vec![(Table::Limits, self.account.clone())];
        keys.extend(self.ip.iter().map(|k| (Table::Limits, k.clone())));
        keys
    }

    /// Judges the counters among `found` (the answer to a read of [`Self::keys`]; other items
    /// are ignored): `Err(retry_after_secs)` when any is at its limit.
    pub fn verdict(&self, found: &[(Table, Item)], now: i64) -> Result<(), i64> {
        let count = |key: &str| {
            found
                .iter()
                .find(|(t, item)| *t == Table::Limits && item.key == key)
                .and_then(|(_, item)| item.body.as_u64())
                .unwrap_or(0)
        };
        let over_account = count(&self.account) >= MAX_ACCOUNT_FAILURES;
        let over_ip = self.ip.as_deref().is_some_and(|k| count(k) >= MAX_IP_FAILURES);
        if over_account || over_ip {
            Err((self.window_end - now).max(1))
        } else {
            Ok(())
        }
    }

    /// Reads the counters: `Ok(Err(retry_after_secs))` when over a limit.
    pub async fn check(&self, store: &Store) -> StoreResult<Result<(), i64>> {
        let found = store.get_many(&self.keys()).await?;
        Ok(self.verdict(&found, store.clock().now()))
    }

    /// Counts one failed login against the account and the source address.
    pub async fn record_failure(&self, store: &Store) -> StoreResult<()> {
        let account = store.increment(Table::Limits, &self.account, self.window_end);
        match &self.ip {
            Some(ip) => {
                let ip = store.increment(Table::Limits, ip, self.window_end);
                let (a, i) = tokio::join!(account, ip);
                a.and(i).map(|_| ())
            }
            None => account.await.map(|_| ()),
        }
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
