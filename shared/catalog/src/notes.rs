//! Per-user notes: `notes_list`, `notes_get` (read-only) and `notes_add`, `notes_delete`. They
//! live in the caller's own collection (`cx.data`, see `mcp_oauth::mcp::data`), which names the
//! caller from the verified access token, so no argument can reach another user's notes. A
//! machine client (`client_credentials`) keeps its own notes under its principal's id.
//!
//! `notes_list` pages with MCP's cursor convention: at most [`PAGE`] notes a call, and a
//! `nextCursor` while more follow, which the client passes back as `cursor`. The cursor is opaque
//! to the client (the last note's creation time and id, base64url), so a page starts after the
//! last note shown even when notes were added or deleted in between.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth::crypto::random_id;
use mcp_oauth::mcp::data::{Collection, DataError};
use mcp_oauth::mcp::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

/// The caller's notes: owned by `notes:<id>` (which the admin tool's user deletion removes) and
/// keyed `note:<id>:<note id>`, as they were stored before the collection API.
fn notes(cx: &ToolContext) -> Collection {
    cx.data.collection("notes").keyed_as("note")
}

fn unavailable(_: DataError) -> ToolError {
    ToolError::Failed("the notes store is unavailable; try again shortly".into())
}

fn not_found(id: &str) -> ToolError {
    ToolError::Failed(format!(
        "no note with id {id:?}; notes_list shows your notes and their ids"
    ))
}

fn read_only() -> Value {
    json!({"readOnlyHint": true, "openWorldHint": false})
}

async fn all(cx: &ToolContext) -> Result<Vec<Note>, ToolError> {
    let mut notes: Vec<Note> = notes(cx).list().await.map_err(unavailable)?;
    notes.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(notes)
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
pub struct ListArgs {
    /// The `nextCursor` of the previous page; absent for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
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

pub struct List;

impl Tool for List {
    type Args = ListArgs;
    const NAME: &'static str = "notes_list";
    const TITLE: &'static str = "List notes";
    const DESCRIPTION: &'static str = "Lists your notes, oldest first, with their ids, 50 at a time: pass a result's nextCursor as cursor for the next ones.";

    fn annotations(&self) -> Value {
        read_only()
    }

    async fn call(&self, cx: ToolContext, ListArgs { cursor }: ListArgs) -> ToolResult {
        let after = cursor.as_deref().map(read_cursor).transpose()?;
        let notes = all(&cx).await?;
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
    }
}

pub struct Get;

impl Tool for Get {
    type Args = IdArgs;
    const NAME: &'static str = "notes_get";
    const TITLE: &'static str = "Read a note";
    const DESCRIPTION: &'static str = "Returns one of your notes by its id.";

    fn annotations(&self) -> Value {
        read_only()
    }

    async fn call(&self, cx: ToolContext, IdArgs { id }: IdArgs) -> ToolResult {
        let note: Note = notes(&cx)
            .get(&id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| not_found(&id))?;
        Ok(ToolOutput::json(json!(note)))
    }
}

pub struct Add;

impl Tool for Add {
    type Args = AddArgs;
    const NAME: &'static str = "notes_add";
    const TITLE: &'static str = "Add a note";
    const DESCRIPTION: &'static str = "Saves a new note (at most 2000 characters) and returns it with its id.";

    fn annotations(&self) -> Value {
        json!({"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false})
    }

    async fn call(&self, cx: ToolContext, AddArgs { text }: AddArgs) -> ToolResult {
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
        if all(&cx).await?.len() >= MAX_NOTES {
            return Err(ToolError::Failed(format!(
                "you already keep {MAX_NOTES} notes; delete some first"
            )));
        }
        let note = Note {
            id: random_id(),
            text,
            created_at: cx.data.now(),
        };
        notes(&cx).create(&note.id, &note).await.map_err(unavailable)?;
        Ok(ToolOutput::json(json!(note)))
    }
}

pub struct Delete;

impl Tool for Delete {
    type Args = IdArgs;
    const NAME: &'static str = "notes_delete";
    const TITLE: &'static str = "Delete a note";
    const DESCRIPTION: &'static str = "Deletes one of your notes by its id.";

    fn annotations(&self) -> Value {
        json!({"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": false})
    }

    async fn call(&self, cx: ToolContext, IdArgs { id }: IdArgs) -> ToolResult {
        if notes(&cx).remove(&id).await.map_err(unavailable)? {
            Ok(ToolOutput::json(json!({"deleted": id})))
        } else {
            Err(not_found(&id))
        }
    }
}
