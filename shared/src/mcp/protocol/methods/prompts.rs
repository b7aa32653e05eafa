//! `prompts/list` and `prompts/get` (server/prompts, every revision). An unknown prompt, arguments
//! that are not strings, an unknown argument or a missing required one are -32602; a prompt that
//! needs input answers with an `InputRequiredResult` (2026-07-28), or -32602 saying why before.
//!
//! Not for: the prompts themselves (see `mcp::prompts`).

use serde_json::{Map, Value, json};

use super::super::Context;
use super::super::jsonrpc::RpcError;
use super::super::version::Revision;
use super::run::{self, prepare};
use super::{LIST_CACHE, Outcome, no_cursor, object, title, with_cache};
use crate::mcp::prompts::{Prompt, PromptArgs, PromptError};

fn prompt_entry(prompt: &Prompt, revision: Revision) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), prompt.name.into());
    title(&mut entry, revision, prompt.title);
    entry.insert("description".into(), prompt.description.into());
    let arguments: Vec<Value> = prompt
        .arguments
        .iter()
        .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
        .collect();
    if !arguments.is_empty() {
        entry.insert("arguments".into(), arguments.into());
    }
    Value::Object(entry)
}

/// `prompts/list`.
pub fn list(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "prompts/list") {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Err(e) = no_cursor(params, "prompts/list") {
        return e.into();
    }
    let prompts: Vec<Value> = ctx.catalog.prompts().map(|p| prompt_entry(p, revision)).collect();
    Outcome::result(with_cache(json!({ "prompts": prompts }), revision, LIST_CACHE))
}

/// The arguments of a `prompts/get` for `prompt`, checked against what it declares.
fn arguments(prompt: &Prompt, given: Option<&Value>) -> Result<PromptArgs, RpcError> {
    let given = match given {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(RpcError::invalid_params(
                "prompts/get params.arguments must be an object",
            ));
        }
    };
    let mut args = PromptArgs::new();
    for (name, value) in given {
        if !prompt.arguments.iter().any(|a| a.name == name) {
            return Err(RpcError::invalid_params(format!(
                "prompt {} has no argument {name:?}",
                prompt.name
            )));
        }
        let Value::String(value) = value else {
            return Err(RpcError::invalid_params(format!(
                "prompt argument {name:?} must be a string"
            )));
        };
        args.insert(name, value);
    }
    if let Some(missing) = prompt
        .arguments
        .iter()
        .find(|a| a.required && !args.contains_key(a.name))
    {
        return Err(RpcError::invalid_params(format!(
            "prompt {} needs the argument {:?}",
            prompt.name, missing.name
        )));
    }
    Ok(args)
}

/// `prompts/get`.
pub async fn get(ctx: &Context, revision: Revision, params: Option<&Value>) -> Outcome {
    let params = match object(params, "prompts/get") {
        Ok(Some(p)) => p,
        Ok(None) => return RpcError::invalid_params("prompts/get needs params with a prompt name").into(),
        Err(e) => return e.into(),
    };
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return RpcError::invalid_params("prompts/get needs params.name, a string").into();
    };
    let Some(prompt) = ctx.catalog.find_prompt(name) else {
        return RpcError::invalid_params(format!("Unknown prompt: {name}")).into();
    };
    let args = match arguments(prompt, params.get("arguments")) {
        Ok(args) => args,
        Err(e) => return e.into(),
    };
    let digest_args = json!(args);
    let run = match prepare(ctx, revision, "prompts/get", name, &digest_args, params).await {
        Ok(run) => run,
        Err(e) => return e.into(),
    };
    let modern = revision.is_modern();
    let what = format!("The prompt {name}");
    let result = match (prompt.get)(run.context.clone(), args).await {
        Ok(output) => {
            let mut result = json!({ "messages": output.messages });
            if let Some(description) = output.description {
                result["description"] = description.into();
            }
            result
        }
        Err(PromptError::InvalidArguments(why)) => {
            return RpcError::invalid_params(format!("Invalid arguments for prompt {name}: {why}")).into();
        }
        Err(PromptError::NeedsInput(required)) if modern => match run.input_required(required).await {
            Ok(result) => result,
            Err(e) => return e.into(),
        },
        Err(PromptError::NeedsInput(required)) => {
            return RpcError::invalid_params(run::needs_newer_revision(&what, &required)).into();
        }
        Err(PromptError::MissingClientCapabilities(caps)) if modern => {
            return RpcError::missing_client_capabilities(&caps).into();
        }
        Err(PromptError::MissingClientCapabilities(caps)) => {
            return RpcError::invalid_params(run::needs_capabilities(&what, &caps)).into();
        }
        Err(PromptError::Failed(why)) => return RpcError::internal(why).into(),
    };
    Outcome::Result {
        result,
        notifications: run.notifications(),
    }
}
