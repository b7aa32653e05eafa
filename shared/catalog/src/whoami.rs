//! `whoami`: the signed-in user's id and email, or for a machine client (`client_credentials`)
//! its client id, without reading any user record. Needs `profile:read`, declared here with its
//! consent wording.

use mcp_oauth::mcp::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult};
use mcp_oauth::scopes::ScopeInfo;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// Reads the user's own profile. User-only: a machine client never holds it unless the operator
/// allows it (`MACHINE_SCOPES_ALLOWED`).
pub const PROFILE_READ: ScopeInfo =
    ScopeInfo::user_only("profile:read", "Read your profile: your user id and email address");

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {}

pub struct WhoAmI;

impl Tool for WhoAmI {
    type Args = Args;
    const NAME: &'static str = "whoami";
    const TITLE: &'static str = "Who am I";
    const DESCRIPTION: &'static str = "Returns the id and email address of the user this connection acts for, or the client id of a machine client acting for itself.";
    const SCOPES: &'static [ScopeInfo] = &[PROFILE_READ];

    fn annotations(&self) -> Value {
        json!({"readOnlyHint": true, "openWorldHint": false})
    }

    async fn call(&self, cx: ToolContext, Args {}: Args) -> ToolResult {
        if cx.principal.machine {
            return Ok(ToolOutput::json(
                json!({"client_id": cx.principal.client_id, "machine": true}),
            ));
        }
        let user = cx
            .user()
            .await
            .map_err(|_| ToolError::Failed("the profile store is unavailable; try again shortly".into()))?
            .ok_or_else(|| ToolError::Failed("this account no longer exists".into()))?;
        Ok(ToolOutput::json(json!({"user_id": user.id, "email": user.email})))
    }
}
