//! `whoami`: the signed-in user's id and email, or for a machine client (`client_credentials`)
//! its client id, without reading any user record. Needs `profile:read`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Tool, ToolContext, ToolError, ToolFuture, ToolOutput, arguments, schema};
use crate::accounts::users;
use crate::scopes::PROFILE_READ;

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {}

fn call(ctx: ToolContext, args: serde_json::Value) -> ToolFuture {
    Box::pin(async move {
        let Args {} = arguments(args)?;
        if ctx.principal.machine {
            return Ok(ToolOutput::json(
                json!({"client_id": ctx.principal.client_id, "machine": true}),
            ));
        }
        let user = users::get(&ctx.store, &ctx.principal.user_id)
            .await
            .map_err(|_| ToolError::Failed("the profile store is unavailable; try again shortly".into()))?
            .ok_or_else(|| ToolError::Failed("this account no longer exists".into()))?;
        Ok(ToolOutput::json(json!({"user_id": user.id, "email": user.email})))
    })
}

pub fn tool() -> Tool {
    Tool {
        name: "whoami",
        title: "Who am I",
        description: "Returns the id and email address of the user this connection acts for, or the client id of a machine client acting for itself.",
        input_schema: schema::<Args>,
        scopes: &[PROFILE_READ],
        annotations: || json!({"readOnlyHint": true, "openWorldHint": false}),
        call,
    }
}
