//! How long tokens, codes, grants, sessions, keys and approvals live (configured in `config`).

/// Token and session lifetimes, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifetimes {
    pub access_token: i64,
    pub auth_code: i64,
    /// How long an unused refresh token stays valid.
    pub refresh_token: i64,
    /// A grant's absolute lifetime, however often it is refreshed.
    pub grant: i64,
    pub session: i64,
    /// How long a retried refresh still receives the successor it was already given.
    pub refresh_grace: i64,
    /// Age after which a new signing key takes over.
    pub key_rotation: i64,
    /// How long an MCP instance trusts its last look at a grant's liveness (0: look every time).
    pub revocation_window: i64,
    /// How long an approval is remembered (`CONSENT_TTL`): after it, the consent page is shown
    /// again even to a client that may skip it.
    pub consent: i64,
}
