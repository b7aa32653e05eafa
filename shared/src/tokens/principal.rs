//! Who a request acts for, as a validated access token tells it: the subject, the client and the
//! granted scopes. The MCP endpoint's bearer check (`mcp::auth`) builds one; tools and handlers
//! read it.

/// Who is calling: the validated access token's subject, client and scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The `kid` of the key that signed the access token (it also seals `requestState`).
    pub key_id: String,
    /// A machine client acting for itself (`client_credentials`): `user_id` is then
    /// `client:<client_id>` (`tokens::access::machine_subject`) and no user record exists, so
    /// tools keep its data under that id and never read a user for it.
    pub machine: bool,
}

impl Principal {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}
