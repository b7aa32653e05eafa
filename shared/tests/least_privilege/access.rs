//! The least-privilege test's table (test code, kept out of the production crate): which store
//! operations each function can reach, per table: the source of each function's IAM
//! policy in `template.yaml`. A test compares the two (an extra grant or a missing one fails), and
//! another runs every flow with recording stores to check that nothing reaches past this list.
//!
//! When a function starts using a new store operation, add it here and to its policy.

use mcp_oauth::store::{Op, Table};

type Access = &'static [(Table, Op)];

// Public keys only: publishing never creates a key (see `keys`).
const DISCOVERY: Access = &[(Table::Keys, Op::QueryByOwner)];

const REGISTER: Access = &[(Table::Clients, Op::Create), (Table::Limits, Op::Increment)];

// Clients Put: caching a client's metadata document (CIMD) on first sight.
const AUTHORIZE: Access = &[
    (Table::Clients, Op::GetMany),
    (Table::Clients, Op::Put),
    (Table::Sessions, Op::GetMany),
    (Table::Sessions, Op::Put),
    (Table::Sessions, Op::Consume),
    (Table::Sessions, Op::Delete),
    (Table::Users, Op::GetMany),
    (Table::Users, Op::Get),
    (Table::Users, Op::Put),
    (Table::Users, Op::Create),
    (Table::Users, Op::Delete),
    (Table::Limits, Op::GetMany),
    (Table::Limits, Op::Increment),
    // A correct password clears its (account, source) attempt counter.
    (Table::Limits, Op::Delete),
    (Table::Consents, Op::Get),
    (Table::Consents, Op::Put),
    (Table::Codes, Op::Create),
    // Password changes and a verified identity taking an unverified account's email.
    (Table::Users, Op::CompareAndSwap),
    // A password reset ends every session of its user.
    (Table::Sessions, Op::QueryByOwner),
    // The account page: connected apps (revoke), sign out everywhere, delete the account.
    (Table::Grants, Op::QueryByOwner),
    (Table::Grants, Op::Get),
    (Table::Grants, Op::Consume),
    (Table::Users, Op::QueryByOwner),
    (Table::AppData, Op::QueryByOwner),
    (Table::AppData, Op::Delete),
    (Table::Consents, Op::QueryByOwner),
    (Table::Consents, Op::Delete),
    // Verification codes, reset links, invites.
    (Table::Tickets, Op::Put),
    (Table::Tickets, Op::Get),
    (Table::Tickets, Op::CompareAndSwap),
    (Table::Tickets, Op::Consume),
    (Table::Tickets, Op::Create),
];

// Grants Delete: moving a grant from before references to its reference (see `tokens::grants`).
const TOKEN: Access = &[
    (Table::Grants, Op::Delete),
    (Table::Clients, Op::Get),
    (Table::Clients, Op::Put),
    // Retire, not Consume: a redeemed code stays as a tombstone until it expires (`tokens::codes`).
    (Table::Codes, Op::Retire),
    (Table::Grants, Op::Create),
    (Table::Grants, Op::Get),
    (Table::Grants, Op::CompareAndSwap),
    (Table::Grants, Op::Consume),
    (Table::Keys, Op::Get),
    (Table::Keys, Op::Create),
    // A private_key_jwt assertion's jti, recorded once (`clients::assertion`).
    (Table::Tickets, Op::Create),
    // Introspection verifies access tokens with the published keys (`introspect`).
    (Table::Keys, Op::QueryByOwner),
];

// Keys: to verify an access token presented for revocation (its grant reference).
const REVOKE: Access = &[
    (Table::Keys, Op::QueryByOwner),
    (Table::Clients, Op::Get),
    (Table::Clients, Op::Put),
    (Table::Grants, Op::Get),
    (Table::Grants, Op::Consume),
    // A private_key_jwt assertion's jti, recorded once (`clients::assertion`).
    (Table::Tickets, Op::Create),
];

// Grants Get: the revocation check, at most once per grant per window (see `tokens::liveness`).
const MCP: Access = &[
    (Table::Keys, Op::QueryByOwner),
    (Table::Grants, Op::Get),
    (Table::Users, Op::Get),
    (Table::AppData, Op::QueryByOwner),
    (Table::AppData, Op::Get),
    (Table::AppData, Op::Create),
    (Table::AppData, Op::Consume),
];

/// The store access of the function with this logical id in `template.yaml`.
pub fn of(function: &str) -> Option<Access> {
    Some(match function {
        "DiscoveryFunction" => DISCOVERY,
        "RegisterFunction" => REGISTER,
        "AuthorizeFunction" => AUTHORIZE,
        "TokenFunction" => TOKEN,
        "RevokeFunction" => REVOKE,
        "McpFunction" => MCP,
        _ => return None,
    })
}

/// Actions on services other than DynamoDB that a function's code calls: each must appear in its
/// policy, and nothing else may.
pub fn service_actions(function: &str) -> &'static [&'static str] {
    match function {
        // Verification codes and reset links (`mcp_oauth::mail::Ses`), on the sender identity only.
        // Upstream client secrets (`mcp_oauth::upstream::secret`), on each configured provider's only.
        "AuthorizeFunction" => &["ses:SendEmail", "secretsmanager:GetSecretValue"],
        // Wrapping the signing keys it creates, unwrapping the active one (`mcp_oauth::kms`).
        "TokenFunction" => &["kms:Encrypt", "kms:Decrypt"],
        // Unwrapping request-state secrets only (an encryption-context condition in its policy).
        "McpFunction" => &["kms:Decrypt"],
        _ => &[],
    }
}

/// The DynamoDB actions an operation performs, and the index it uses if any.
pub fn dynamodb_actions(op: Op) -> &'static [(&'static str, Option<&'static str>)] {
    use mcp_oauth::store::tables::index::{BY_GRANT, BY_OWNER};
    match op {
        Op::Create | Op::Put | Op::CompareAndSwap => &[("dynamodb:PutItem", None)],
        Op::Get => &[("dynamodb:GetItem", None)],
        Op::GetMany => &[("dynamodb:BatchGetItem", None)],
        Op::Consume | Op::Delete => &[("dynamodb:DeleteItem", None)],
        Op::Retire => &[("dynamodb:UpdateItem", None)],
        Op::DeleteByGrant => &[("dynamodb:Query", Some(BY_GRANT)), ("dynamodb:BatchWriteItem", None)],
        Op::QueryByOwner => &[("dynamodb:Query", Some(BY_OWNER))],
        // A live counter is bumped in place; an expired one is replaced.
        Op::Increment => &[("dynamodb:UpdateItem", None), ("dynamodb:PutItem", None)],
        // Operators' tools only (`infra/admin`); no function above lists it.
        Op::Scan => &[("dynamodb:Scan", None)],
    }
}
