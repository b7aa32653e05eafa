//! The command line's grammar (clap derive): commands, options and their help.
//!
//! Not for: running them (see `run`).

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "admin",
    about = "Operate an mcp-oauth deployment: users, clients, grants, signing keys, invites.",
    after_help = "Exit codes: 0 done, 1 not found or refused, 2 usage error, 3 store unavailable.\n\
                  The store comes from the dev server's environment (STORE, STORE_PATH, TABLE_PREFIX, \
                  DYNAMODB_ENDPOINT), or --stack."
)]
pub struct Cli {
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Use the DynamoDB tables of this CloudFormation stack in AWS (STORE=dynamodb TABLE_PREFIX=NAME-).
    #[arg(long, global = true, value_name = "NAME")]
    pub stack: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Accounts: list, inspect, disable, enable, delete.
    Users {
        #[command(subcommand)]
        action: Users,
    },
    /// Registered OAuth clients.
    Clients {
        #[command(subcommand)]
        action: Clients,
    },
    /// What users allowed clients (refresh-token chains).
    Grants {
        #[command(subcommand)]
        action: Grants,
    },
    /// Token-signing keys.
    Keys {
        #[command(subcommand)]
        action: Keys,
    },
    /// Sign-up invites (for SIGNUP=invite).
    Invites {
        #[command(subcommand)]
        action: Invites,
    },
}

#[derive(Subcommand, Debug)]
pub enum Users {
    /// Every user.
    List,
    /// One user, by id or email address, with their sign-in methods and grants.
    Show { id_or_email: String },
    /// Refuse sign-in, revoke every grant and end every session.
    Disable { id: String },
    /// Allow sign-in again.
    Enable { id: String },
    /// Remove the user and everything of theirs (says what, and refuses, without --yes).
    Delete {
        id: String,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum Clients {
    List,
    /// One client and its grants.
    Show {
        id: String,
    },
    /// Remove the client, revoking its grants (says what, and refuses, without --yes).
    Delete {
        id: String,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum Grants {
    /// Grants, newest first, optionally of one user or one client.
    List {
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        #[arg(long, value_name = "ID")]
        client: Option<String>,
    },
    /// Revoke the one grant whose id starts with PREFIX (as `grants list` prints it).
    Revoke { prefix: String },
}

#[derive(Subcommand, Debug)]
pub enum Keys {
    /// Published signing keys and which one signs now.
    List,
    /// Make a new key sign from now on; the old one stays published until its tokens expire.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum Invites {
    /// Create a single-use sign-up link (shown once).
    Create {
        /// Only this address may use it.
        #[arg(long, value_name = "E")]
        email: Option<String>,
        /// How long it stays valid: seconds, or with a unit (30m, 12h, 7d).
        #[arg(long, default_value = "7d", value_parser = ttl)]
        ttl: i64,
    },
}

fn ttl(s: &str) -> Result<i64, String> {
    mcp_oauth::env::parse_duration(s)
        .filter(|t| *t > 0)
        .ok_or_else(|| "a positive duration, like 3600, 30m, 12h or 7d".to_owned())
}
