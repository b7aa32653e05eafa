//! Revocation that reaches `/mcp` without giving up warm requests that make no store call.
//!
//! Access tokens stay JWTs checked with cached keys, and carry the reference of their grant
//! (`gid`, see `tokens::grants::reference`). Each instance remembers, per grant reference, whether
//! the grant was live and when it last looked: within the window R (`REVOCATION_WINDOW`, default
//! 60 s) a request is judged from memory; after it, one store read (GetItem on the grant) looks
//! again. A revoked or expired grant reads as absent, and its tokens are refused with 401
//! `invalid_token` from then on.
//!
//! - Bound: a revoked grant's tokens are refused by every instance within R of the revocation
//!   (an instance that looked just before it trusts its answer for at most R).
//! - Cost: at most one read per grant per R per warm instance; a warm request inside the window
//!   makes none. R = 0 reads on every request.
//! - The store unreachable when a look is due: 503 (fail closed), never a revoked token let in.
//! - Memory: at most [`MAX_ENTRIES`] grants remembered; past that, entries older than R go first,
//!   then all (a forgotten grant costs one read, never a wrong answer).
//!
//! Not for: verifying the token itself (see `mcp::auth`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{Store, StoreResult, Table};

/// Grants one instance remembers at most.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Seen {
    at: i64,
    live: bool,
}

/// Per-instance memory of grant liveness.
#[derive(Debug)]
pub struct Liveness {
    window: i64,
    seen: Mutex<HashMap<String, Seen>>,
}

impl Liveness {
    pub fn new(window: i64) -> Self {
        Liveness {
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn window(&self) -> i64 {
        self.window
    }

    fn remembered(&self, reference: &str, now: i64) -> Option<bool> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let s = seen.get(reference)?;
        // A revoked grant never comes back: that answer needs no second look.
        (!s.live || now - s.at < self.window).then_some(s.live)
    }

    fn remember(&self, reference: &str, now: i64, live: bool) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_ENTRIES && !seen.contains_key(reference) {
            let window = self.window;
            seen.retain(|_, s| s.live && now - s.at < window);
            if seen.len() >= MAX_ENTRIES {
                seen.clear();
            }
        }
        seen.insert(reference.to_owned(), Seen { at: now, live });
    }

    /// Whether the grant with `reference` is live: from memory within the window, else one read.
    pub async fn is_live(&self, store: &Store, reference: &str) -> StoreResult<bool> {
        let now = store.clock().now();
        if let Some(live) = self.remembered(reference, now) {
            return Ok(live);
        }
        let live = store.get(Table::Grants, reference).await?.is_some();
        self.remember(reference, now, live);
        Ok(live)
    }
}
