//! Runs one parsed command against the configured store and prints its answer.
//!
//! Exit codes: 0 done, 1 not found or refused (including `delete` without `--yes`), 2 usage or
//! configuration error, 3 store unavailable (or holding data it cannot read).
//!
//! Not for: the actions themselves (`mcp_oauth::accounts::admin`, `mcp_oauth::keys`).

use mcp_oauth::accounts::admin::{self, AdminError, GrantFilter, GrantInfo, Removed};
use mcp_oauth::app::AppState;
use mcp_oauth::clock::Clock;
use mcp_oauth::config::Config;
use mcp_oauth::env::base_str;
use serde_json::json;

use crate::cli::{Cli, Clients, Command, Grants, Invites, Keys, Users};
use crate::output::{fields, json, optional_time, table, time, yes_no};

pub const OK: u8 = 0;
pub const REFUSED: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNAVAILABLE: u8 = 3;

/// Security events (`admin_…`) and warnings go to stderr, so stdout stays the answer alone.
/// `RUST_LOG` filters; the default shows warnings, which every admin event is.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(mcp_oauth::app::log_filter("warn"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
}

/// The configuration: the process environment, with `--stack` standing for its DynamoDB tables.
fn config(stack: Option<&str>) -> Result<Config, mcp_oauth::env::ConfigError> {
    Config::from_lookup(|k| {
        if let Some(stack) = stack {
            match k {
                "STORE" => return Some("dynamodb".to_owned()),
                "TABLE_PREFIX" => return Some(format!("{stack}-")),
                // The stack's wrapping key, by the alias template.yaml gives it: a key rotated
                // from here is stored wrapped like the token function's, never as PEM.
                "SIGNING_KEY_KMS_ID" => {
                    return Some(
                        std::env::var(k)
                            .ok()
                            .filter(|v| !v.is_empty())
                            .unwrap_or_else(|| format!("alias/{stack}-signing-keys")),
                    );
                }
                _ => {}
            }
        }
        std::env::var(k).ok().filter(|v| !v.is_empty())
    })
}

/// Runs the command; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let config = match config(cli.stack.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("admin: configuration: {e}");
            return USAGE;
        }
    };
    let state = match AppState::from_config(config, Clock::system()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("admin: {e} (is the dev server holding the store file? stop it first)");
            return UNAVAILABLE;
        }
    };
    match dispatch(&state, cli.command, cli.json).await {
        Ok(code) => code,
        Err(AdminError::NotFound(what)) => {
            eprintln!("admin: {what} not found");
            REFUSED
        }
        Err(AdminError::Refused(why)) => {
            eprintln!("admin: refused: {why}");
            REFUSED
        }
        Err(AdminError::Store(e)) => {
            eprintln!("admin: {e}");
            UNAVAILABLE
        }
        Err(AdminError::Keys(e)) => {
            eprintln!("admin: {e}");
            UNAVAILABLE
        }
    }
}

fn grant_rows(grants: &[GrantInfo]) -> Vec<Vec<String>> {
    grants
        .iter()
        .map(|g| {
            vec![
                g.id.clone(),
                g.user_id.clone(),
                g.client_id.clone(),
                g.scope.join(" "),
                time(g.created_at),
                time(g.expires_at),
            ]
        })
        .collect()
}

const GRANT_HEADERS: [&str; 6] = ["GRANT", "USER", "CLIENT", "SCOPE", "CREATED", "ENDS"];

fn removed_line(r: &Removed) -> String {
    format!(
        "{} sign-in records, {} sessions, {} grants, {} notes, {} consents",
        r.logins, r.sessions, r.grants, r.notes, r.consents
    )
}

async fn dispatch(state: &AppState, command: Command, as_json: bool) -> Result<u8, AdminError> {
    let store = &state.store;
    match command {
        Command::Users { action } => match action {
            Users::List => {
                let users = admin::list_users(store).await?;
                if as_json {
                    json(&users);
                } else {
                    let rows: Vec<Vec<String>> = users
                        .iter()
                        .map(|u| {
                            vec![
                                u.id.clone(),
                                u.email.clone(),
                                yes_no(u.email_verified),
                                yes_no(u.disabled),
                                time(u.created_at),
                            ]
                        })
                        .collect();
                    table(&["ID", "EMAIL", "VERIFIED", "DISABLED", "CREATED"], &rows);
                }
            }
            Users::Show { id_or_email } => {
                let d = admin::show_user(store, &id_or_email).await?;
                if as_json {
                    json(&d);
                } else {
                    fields(&[
                        ("id", d.user.id.clone()),
                        ("email", d.user.email.clone()),
                        ("verified", yes_no(d.user.email_verified)),
                        ("disabled", yes_no(d.user.disabled)),
                        ("created", time(d.user.created_at)),
                        ("email sign-in", yes_no(d.has_email_login)),
                        ("identities", d.identities.join(", ")),
                    ]);
                    println!();
                    table(&GRANT_HEADERS, &grant_rows(&d.grants));
                }
            }
            Users::Disable { id } => {
                let r = admin::disable_user(store, &id).await?;
                if as_json {
                    json(&json!({"user_id": id, "disabled": true, "removed": r}));
                } else {
                    println!(
                        "disabled user {id}: revoked {} grants, ended {} sessions",
                        r.grants, r.sessions
                    );
                }
            }
            Users::Enable { id } => {
                admin::enable_user(store, &id).await?;
                if as_json {
                    json(&json!({"user_id": id, "disabled": false}));
                } else {
                    println!("enabled user {id}");
                }
            }
            Users::Delete { id, yes } => {
                if !yes {
                    let plan = admin::delete_user_plan(store, &id).await?;
                    return Ok(refuse_without_yes(&format!("user {id}"), &plan, as_json));
                }
                let r = admin::delete_user(store, &id).await?;
                if as_json {
                    json(&json!({"user_id": id, "deleted": true, "removed": r}));
                } else {
                    println!("deleted user {id}: {}", removed_line(&r));
                }
            }
        },
        Command::Clients { action } => match action {
            Clients::List => {
                let clients = admin::list_clients(store).await?;
                if as_json {
                    json(&clients);
                } else {
                    let rows: Vec<Vec<String>> = clients
                        .iter()
                        .map(|c| {
                            vec![
                                c.client_id.clone(),
                                c.client_name.clone().unwrap_or_default(),
                                c.auth_method.to_owned(),
                                time(c.created_at),
                                optional_time(c.expires_at),
                            ]
                        })
                        .collect();
                    table(&["CLIENT", "NAME", "AUTH", "CREATED", "LAPSES"], &rows);
                }
            }
            Clients::Show { id } => {
                let (c, grants) = admin::show_client(store, &id).await?;
                if as_json {
                    json(&json!({"client": c, "grants": grants}));
                } else {
                    fields(&[
                        ("client_id", c.client_id.clone()),
                        ("name", c.client_name.clone().unwrap_or_default()),
                        ("auth", c.auth_method.to_owned()),
                        ("redirect_uris", c.redirect_uris.join(" ")),
                        ("created", time(c.created_at)),
                        ("lapses", optional_time(c.expires_at)),
                    ]);
                    println!();
                    table(&GRANT_HEADERS, &grant_rows(&grants));
                }
            }
            Clients::Delete { id, yes } => {
                if !yes {
                    let plan = admin::delete_client_plan(store, &id).await?;
                    return Ok(refuse_without_yes(&format!("client {id}"), &plan, as_json));
                }
                let r = admin::delete_client(store, &id).await?;
                if as_json {
                    json(&json!({"client_id": id, "deleted": true, "removed": r}));
                } else {
                    println!(
                        "deleted client {id}: revoked {} grants, forgot {} consents",
                        r.grants, r.consents
                    );
                }
            }
        },
        Command::Grants { action } => match action {
            Grants::List { user, client } => {
                let filter = GrantFilter {
                    user_id: user,
                    client_id: client,
                };
                let grants = admin::list_grants(store, &filter).await?;
                if as_json {
                    json(&grants);
                } else {
                    table(&GRANT_HEADERS, &grant_rows(&grants));
                }
            }
            Grants::Revoke { prefix } => {
                let g = admin::revoke_grant(store, &prefix).await?;
                if as_json {
                    json(&json!({"revoked": g}));
                } else {
                    println!(
                        "revoked grant {} of user {} for client {}",
                        g.id, g.user_id, g.client_id
                    );
                }
            }
        },
        Command::Keys { action } => match action {
            Keys::List => {
                let keys = state.keys.list().await?;
                if as_json {
                    json(&keys);
                } else {
                    let rows: Vec<Vec<String>> = keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.kid.clone(),
                                time(k.created_at),
                                k.slot.to_string(),
                                yes_no(k.active),
                                optional_time(k.retires_at),
                            ]
                        })
                        .collect();
                    table(&["KID", "CREATED", "SLOT", "ACTIVE", "RETIRES"], &rows);
                }
            }
            Keys::Rotate => {
                let r = admin::rotate_key(&state.keys).await?;
                if as_json {
                    json(&r);
                } else {
                    println!("new signing key {} is active", r.kid);
                    if let Some(old) = &r.previous_kid {
                        println!("key {old} stays published until the tokens it signed expire");
                    }
                }
            }
        },
        Command::Invites { action } => match action {
            Invites::Create { email, ttl } => {
                let Some(base) = state.config.public_url.as_ref().map(base_str) else {
                    return Err(AdminError::Refused("set PUBLIC_URL: the invite link needs it".into()));
                };
                let link = admin::create_invite(store, &base, email.as_deref(), ttl).await?;
                let expires_at = store.clock().now() + ttl;
                if as_json {
                    json(&json!({"link": link, "email": email, "expires_at": expires_at}));
                } else {
                    println!("{link}");
                    eprintln!("valid until {}; shown only now", time(expires_at));
                }
            }
        },
    }
    Ok(OK)
}

/// `delete` without `--yes`: say what would go, change nothing, exit 1.
fn refuse_without_yes(what: &str, plan: &Removed, as_json: bool) -> u8 {
    if as_json {
        json(&json!({"deleted": false, "would_remove": plan}));
    } else {
        println!("would delete {what} with {}", removed_line(plan));
    }
    eprintln!("admin: refused: nothing deleted; run again with --yes");
    REFUSED
}
