//! What bounds how often strangers can make us fetch metadata documents: a negative cache of
//! documents that failed, and a per-origin limit on fetches. Both are in-process, per warm
//! instance (a Lambda instance serves one request at a time and lives minutes to hours), and
//! bounded in size; a cold start forgets them, which costs at most one more round of fetches.
//!
//! Not for: the positive cache (fetched documents are kept in the clients table, see `document`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::DocumentError;

/// How long a failed document is answered from memory: long enough that a burst of requests
/// naming it costs one fetch, short enough that a client fixing its document waits a minute.
pub const FAILURE_TTL: i64 = 60;
/// Most failed documents remembered; past it the oldest entry is dropped.
pub const MAX_FAILURES: usize = 1024;
/// Fetches one origin (scheme, host and port of the `client_id`) may cause per [`WINDOW`]
/// seconds. A real client needs one fetch per cache lifetime; ten covers a few clients on one
/// host, while a stranger cycling through URLs on one host gets ten 3-second fetches a minute.
pub const FETCHES_PER_WINDOW: u32 = 10;
pub const WINDOW: i64 = 60;
/// Most origins whose fetch count is tracked; past it the oldest window is dropped.
pub const MAX_ORIGINS: usize = 1024;

#[derive(Default)]
struct State {
    /// Document URL → (expires at, the error it failed with).
    failures: HashMap<String, (i64, DocumentError)>,
    /// Origin → (window start, fetches in it).
    fetches: HashMap<String, (i64, u32)>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<State>> {
    // A panic while holding the lock cannot leave these maps inconsistent: use them anyway.
    STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Drops the entry with the smallest key time when `map` is full, expired ones first.
fn make_room<V>(map: &mut HashMap<String, V>, max: usize, live: impl Fn(&V) -> bool, time: impl Fn(&V) -> i64) {
    if map.len() < max {
        return;
    }
    map.retain(|_, v| live(v));
    if map.len() >= max
        && let Some(oldest) = map.iter().min_by_key(|(_, v)| time(v)).map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
}

impl State {
    fn remembered_failure(&mut self, url: &str, now: i64) -> Option<DocumentError> {
        match self.failures.get(url) {
            Some((expires, e)) if *expires > now => Some(e.clone()),
            Some(_) => {
                self.failures.remove(url);
                None
            }
            None => None,
        }
    }

    fn remember_failure(&mut self, url: &str, error: &DocumentError, now: i64) {
        make_room(
            &mut self.failures,
            MAX_FAILURES,
            |(expires, _)| *expires > now,
            |(expires, _)| *expires,
        );
        self.failures.insert(url.to_owned(), (now + FAILURE_TTL, error.clone()));
    }

    fn may_fetch(&mut self, origin: &str, now: i64) -> bool {
        if let Some((start, count)) = self.fetches.get_mut(origin) {
            if now - *start >= WINDOW {
                (*start, *count) = (now, 1);
                return true;
            }
            if *count >= FETCHES_PER_WINDOW {
                return false;
            }
            *count += 1;
            return true;
        }
        make_room(
            &mut self.fetches,
            MAX_ORIGINS,
            |(start, _)| now - *start < WINDOW,
            |(start, _)| *start,
        );
        self.fetches.insert(origin.to_owned(), (now, 1));
        true
    }
}

/// The error `url` failed with less than [`FAILURE_TTL`] seconds ago.
pub fn remembered_failure(url: &str, now: i64) -> Option<DocumentError> {
    state().get_or_insert_with(State::default).remembered_failure(url, now)
}

pub fn remember_failure(url: &str, error: &DocumentError, now: i64) {
    state()
        .get_or_insert_with(State::default)
        .remember_failure(url, error, now);
}

/// Counts a fetch for `origin`; false when the origin has used its fetches for this window.
pub fn may_fetch(origin: &str, now: i64) -> bool {
    state().get_or_insert_with(State::default).may_fetch(origin, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_remembered_for_its_ttl_only() {
        let mut s = State::default();
        let url = "https://example.com/client.json";
        let e = DocumentError::Invalid("bad".into());
        s.remember_failure(url, &e, 1_000);
        assert_eq!(s.remembered_failure(url, 1_000 + FAILURE_TTL - 1), Some(e));
        assert_eq!(s.remembered_failure(url, 1_000 + FAILURE_TTL), None);
    }

    #[test]
    fn an_origin_gets_a_bounded_number_of_fetches_per_window() {
        let mut s = State::default();
        let origin = "https://example.com";
        for _ in 0..FETCHES_PER_WINDOW {
            assert!(s.may_fetch(origin, 5_000));
        }
        assert!(!s.may_fetch(origin, 5_000 + WINDOW - 1));
        assert!(
            s.may_fetch("https://other.example", 5_000),
            "other origins are not held back"
        );
        assert!(s.may_fetch(origin, 5_000 + WINDOW), "a new window");
    }

    #[test]
    fn the_tables_stay_bounded() {
        let mut s = State::default();
        for i in 0..MAX_FAILURES + 10 {
            s.remember_failure(
                &format!("https://{i}.example/c.json"),
                &DocumentError::Unreachable,
                9_000,
            );
        }
        for i in 0..MAX_ORIGINS + 10 {
            s.may_fetch(&format!("https://{i}.example"), 9_000);
        }
        assert_eq!(s.failures.len(), MAX_FAILURES);
        assert_eq!(s.fetches.len(), MAX_ORIGINS);
    }
}
