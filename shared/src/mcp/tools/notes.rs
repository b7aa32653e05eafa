//! Per-user notes, kept in the app data table: `notes_list`, `notes_get` (read-only) and
//! `notes_add`, `notes_delete`. Every key includes the caller's user id, which comes from the
//! verified access token, so no argument can reach another user's notes. A machine client
//! (`client_credentials`) keeps its own notes under its principal's id, `client:<client_id>`,
//! which no user id can equal (user ids hold no colon).
//!
//! `notes_list` pages with MCP's cursor convention: at most [`PAGE`] notes a call, and a
//! `nextCursor` while more follow, which the client passes back as `cursor`. The cursor is opaque
//! to the client (the last note's creation time and id, base64url), so a page starts after the
//! last note shown even when notes were added or deleted in between.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Tool, ToolContext, ToolError, ToolFuture, ToolOutput, arguments, schema};
use crate::crypto::random_id;
use crate::store::{Consumed, Store, StoreError, Table, typed};

/// Longest note, in characters.
pub const MAX_CHARS: usize = 2000;
/// Most notes one user may keep.
pub const MAX_NOTES: usize = 200;
/// Most notes one `notes_list` call returns: 50 full notes are ~110 KB of answer, so even a batch
/// of list calls stays far inside the MCP function's memory and `protocol::MAX_RESPONSE`.
pub const PAGE: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Note {
    pub id: String,
    pub text: String,
    pub created_at: i64,
}

fn owner(user_id: &str) -> String {
    format!("notes:{user_id}")
}

fn key(user_id: &str, note_id: &str) -> String {
    format!("note:{user_id}:{note_id}")
}

fn unavailable(_: StoreError) -> ToolError {
    ToolError::Failed("the notes store is unavailable; try again shortly".into())
}

fn not_found(id: &str) -> ToolError {
    ToolError::Failed(format!(
        "no note with id {id:?}; notes_list shows your notes and their ids"
    ))
}

async fn all(store: &Store, user_id: &str) -> Result<Vec<Note>, ToolError> {
    let items = store
        .query_by_owner(Table::AppData, &owner(user_id))
        .await
        .map_err(unavailable)?;
    let mut notes: Vec<Note> = items
        .iter()
        .map(typed::body)
        .collect::<Result<_, _>>()
        .map_err(unavailable)?;
    notes.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(notes)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// The `nextCursor` of the previous page; absent for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Where a page starts: after the note with this creation time and id.
fn cursor_for(note: &Note) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", note.created_at, note.id))
}

fn read_cursor(cursor: &str) -> Result<(i64, String), ToolError> {
    let invalid = || ToolError::InvalidArguments("cursor is not a nextCursor that notes_list returned".into());
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    let (created_at, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok((created_at.parse().map_err(|_| invalid())?, id.to_owned()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// The note's id, as notes_list or notes_add gave it.
    pub id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    /// The note's text, at most 2000 characters.
    pub text: String,
}

fn list(ctx: ToolContext, args: Value) -> ToolFuture {
    Box::pin(async move {
        let ListArgs { cursor } = arguments(args)?;
        let after = cursor.as_deref().map(read_cursor).transpose()?;
        let notes = all(&ctx.store, &ctx.principal.user_id).await?;
        let start = after.map_or(0, |(at, id)| {
            notes.partition_point(|n| (n.created_at, &n.id) <= (at, &id))
        });
        let page = &notes[start..notes.len().min(start + PAGE)];
        let mut out = json!({ "notes": page });
        if start + page.len() < notes.len()
            && let Some(last) = page.last()
        {
            out["nextCursor"] = cursor_for(last).into();
        }
        Ok(ToolOutput::json(out))
    })
}

fn get(ctx: ToolContext, args: Value) -> ToolFuture {
    Box::pin(async move {
        let IdArgs { id } = arguments(args)?;
        let item = ctx
            .store
            .get(Table::AppData, &key(&ctx.principal.user_id, &id))
            .await
            .map_err(unavailable)?;
        let note: Note = typed::body(&item.ok_or_else(|| not_found(&id))?).map_err(unavailable)?;
        Ok(ToolOutput::json(json!(note)))
    })
}

fn add(ctx: ToolContext, args: Value) -> ToolFuture {
    Box::pin(async move {
        let AddArgs { text } = arguments(args)?;
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(ToolError::Failed("a note needs some text".into()));
        }
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(ToolError::Failed(format!(
                "the note is {chars} characters long; the limit is {MAX_CHARS}"
            )));
        }
        let user_id = &ctx.principal.user_id;
        if all(&ctx.store, user_id).await?.len() >= MAX_NOTES {
            return Err(ToolError::Failed(format!(
                "you already keep {MAX_NOTES} notes; delete some first"
            )));
        }
        let note = Note {
            id: random_id(),
            text,
            created_at: ctx.store.clock().now(),
        };
        let mut item = typed::item(key(user_id, &note.id), &note).map_err(unavailable)?;
        item.owner = Some(owner(user_id));
        ctx.store.create(Table::AppData, item).await.map_err(unavailable)?;
        Ok(ToolOutput::json(json!(note)))
    })
}

fn delete(ctx: ToolContext, args: Value) -> ToolFuture {
    Box::pin(async move {
        let IdArgs { id } = arguments(args)?;
        match ctx
            .store
            .consume(Table::AppData, &key(&ctx.principal.user_id, &id), None)
            .await
            .map_err(unavailable)?
        {
            Consumed::Taken(_) => Ok(ToolOutput::json(json!({"deleted": id}))),
            _ => Err(not_found(&id)),
        }
    })
}

pub fn list_tool() -> Tool {
    Tool {
        name: "notes_list",
        title: "List notes",
        description: "Lists your notes, oldest first, with their ids, 50 at a time: pass a result's nextCursor as cursor for the next ones.",
        input_schema: schema::<ListArgs>,
        scopes: &[],
        annotations: || json!({"readOnlyHint": true, "openWorldHint": false}),
        call: list,
    }
}

pub fn get_tool() -> Tool {
    Tool {
        name: "notes_get",
        title: "Read a note",
        description: "Returns one of your notes by its id.",
        input_schema: schema::<IdArgs>,
        scopes: &[],
        annotations: || json!({"readOnlyHint": true, "openWorldHint": false}),
        call: get,
    }
}

pub fn add_tool() -> Tool {
    Tool {
        name: "notes_add",
        title: "Add a note",
        description: "Saves a new note (at most 2000 characters) and returns it with its id.",
        input_schema: schema::<AddArgs>,
        scopes: &[],
        annotations: || json!({"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false}),
        call: add,
    }
}

pub fn delete_tool() -> Tool {
    Tool {
        name: "notes_delete",
        title: "Delete a note",
        description: "Deletes one of your notes by its id.",
        input_schema: schema::<IdArgs>,
        scopes: &[],
        annotations: || json!({"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": false}),
        call: delete,
    }
}
