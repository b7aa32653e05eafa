//! What every tool, prompt and resource handler receives besides its own arguments: who is
//! calling, the store, where its notifications go, and the input a multi round-trip request
//! brought back.
//!
//! Not for: the protocol-level context of a whole POST (see `mcp::protocol::Context`).

use crate::mcp::input::Input;
use crate::mcp::notify::Notifier;
use crate::mcp::tools::Principal;
use crate::store::Store;

#[derive(Clone)]
pub struct RequestContext {
    pub principal: Principal,
    pub store: Store,
    /// Progress and log notifications, delivered before the result.
    pub notify: Notifier,
    /// Answers and state a retried request brought back (2026-07-28), and the client's
    /// capabilities; empty and unavailable under earlier revisions.
    pub input: Input,
}

impl RequestContext {
    /// A context with nothing to notify and no input: for calling a handler outside a request.
    pub fn plain(principal: Principal, store: Store) -> Self {
        RequestContext {
            principal,
            store,
            notify: Notifier::silent(),
            input: Input::unavailable(),
        }
    }
}
