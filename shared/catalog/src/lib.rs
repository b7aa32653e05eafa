//! What this deployment serves: its tools, resources and prompts, assembled in [`catalog`].
//!
//! This crate is the fork's. Add a tool as one file here (a type implementing
//! `mcp_oauth::mcp::tools::Tool`, with the scopes it needs and their consent wording beside it)
//! and one line in [`catalog`]; nothing else changes. Every function's `main` and the dev server
//! pass `catalog()` to the application state, and the metadata documents, the consent screen,
//! the token endpoint, `tools/list` filtering and the step-up challenge all read their scopes from
//! it (docs/ARCHITECTURE.md, "Tools and the catalog").
//!
//! - [`whoami`]: a tool with a scope of its own (`profile:read`).
//! - [`notes`]: four tools over the caller's own data (`cx.data`).

pub mod notes;
pub mod whoami;

use mcp_oauth::mcp::catalog::Catalog;

/// What the server tells clients (and their models) about its tools.
const INSTRUCTIONS: &str = "Tools that act for the signed-in user: notes_* keep private notes (only this user \
                            sees them); whoami tells who the user is. Call notes_list to find a note's id.";

/// The deployment's catalog. Built once per cold start: a tool's state (an HTTP client, its
/// configuration) is made here.
pub fn catalog() -> Catalog {
    Catalog::new()
        .instructions(INSTRUCTIONS)
        .tool(whoami::WhoAmI)
        .tool(notes::List)
        .tool(notes::Get)
        .tool(notes::Add)
        .tool(notes::Delete)
}
