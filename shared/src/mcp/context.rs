//! What every tool, prompt and resource handler receives besides its own arguments: who is
//! calling, that caller's own data, where its notifications go, and the input a multi round-trip
//! request brought back.
//!
//! A handler gets no raw store: its data handle ([`RequestContext::data`]) is already scoped to
//! the caller (see `mcp::data`), and the caller's own profile is [`RequestContext::user`].
//!
//! Not for: the protocol-level context of a whole POST (see `mcp::protocol::Context`).

use crate::accounts::users::{self, User};
use crate::mcp::data::UserData;
use crate::mcp::input::Input;
use crate::mcp::notify::Notifier;
use crate::store::{Store, StoreError};
use crate::tokens::principal::Principal;

#[derive(Clone)]
pub struct RequestContext {
    pub principal: Principal,
    /// The caller's own app data, and nobody else's.
    pub data: UserData,
    /// Progress and log notifications, delivered before the result.
    pub notify: Notifier,
    /// Answers and state a retried request brought back (2026-07-28), and the client's
    /// capabilities; empty and unavailable under earlier revisions.
    pub input: Input,
    store: Store,
}

impl RequestContext {
    pub fn new(principal: Principal, store: Store, notify: Notifier, input: Input) -> Self {
        RequestContext {
            data: UserData::new(store.clone(), &principal),
            principal,
            notify,
            input,
            store,
        }
    }

    /// A context with nothing to notify and no input: for calling a handler outside a request.
    pub fn plain(principal: Principal, store: Store) -> Self {
        Self::new(principal, store, Notifier::silent(), Input::unavailable())
    }

    /// The calling user's record; `None` for a machine client (which has none) or a user deleted
    /// since the token was issued.
    pub async fn user(&self) -> Result<Option<User>, StoreError> {
        if self.principal.machine {
            return Ok(None);
        }
        users::get(&self.store, &self.principal.user_id).await
    }
}
