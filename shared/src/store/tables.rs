//! The tables: one per kind of record (docs/ARCHITECTURE.md, "Tables and TTL"), and the attribute names both backends
//! use. `template.yaml` declares the same tables; `crate::store::dynamo::bootstrap` creates them
//! from the template itself, so there is one definition, not two.

use std::fmt;

/// Attribute names shared by the DynamoDB backend and the template.
pub mod attr {
    pub const KEY: &str = "pk";
    pub const BODY: &str = "body";
    /// The TTL attribute named by every table's `TimeToLiveSpecification`.
    pub const EXPIRES_AT: &str = "expires_at";
    pub const VERSION: &str = "version";
    pub const OWNER: &str = "owner";
    pub const GRANT: &str = "grant_id";
    pub const GUARD: &str = "guard";
    pub const COUNT: &str = "count";
}

/// Index names declared in the template.
pub mod index {
    pub const BY_OWNER: &str = "by_owner";
    pub const BY_GRANT: &str = "by_grant";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Registered OAuth clients.
    Clients,
    /// User profiles and the identities (email, upstream subject) that lead to them.
    Users,
    /// Browser sessions of signed-in users.
    Sessions,
    /// Authorization codes, hashed, single-use.
    Codes,
    /// Grants: what a user allowed a client, with the grant's refresh-token chain.
    Grants,
    /// Remembered consent per user, client and resource.
    Consents,
    /// Token-signing keys.
    Keys,
    /// Data that tools keep on behalf of users.
    AppData,
    /// Counters for rate limits and login throttling.
    Limits,
    /// Single-use tickets that reach a person by mail or from an operator, each stored under the
    /// hash of its secret: email verification codes, password-reset links and sign-up invites.
    Tickets,
}

impl Table {
    pub const ALL: [Table; 10] = [
        Table::Clients,
        Table::Users,
        Table::Sessions,
        Table::Codes,
        Table::Grants,
        Table::Consents,
        Table::Keys,
        Table::AppData,
        Table::Limits,
        Table::Tickets,
    ];

    /// The table's name without the deployment prefix; also its embedded-store table name.
    pub const fn name(self) -> &'static str {
        match self {
            Table::Clients => "clients",
            Table::Users => "users",
            Table::Sessions => "sessions",
            Table::Codes => "codes",
            Table::Grants => "grants",
            Table::Consents => "consents",
            Table::Keys => "keys",
            Table::AppData => "appdata",
            Table::Limits => "limits",
            Table::Tickets => "tickets",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
