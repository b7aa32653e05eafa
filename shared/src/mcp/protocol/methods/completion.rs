//! `completion/complete` (server/utilities/completion, every revision): suggestions for a prompt's
//! argument or a resource template's variable, from the values its registry entry offers, those
//! that start with what the user has typed (ignoring case), at most 100.
//!
//! Not for: where the candidate values come from (see `mcp::prompts` and `mcp::resources`).

use serde_json::{Map, Value, json};

use super::super::Context;
use super::super::jsonrpc::RpcError;
use super::{Outcome, object};

/// Most values one answer carries ("Must not exceed 100 items").
pub const MAX_VALUES: usize = 100;

fn field<'a>(map: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str, RpcError> {
    map.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("completion/complete needs {what}, a string")))
}

/// The candidates for the argument named in `params`, or why there are none to ask about.
fn candidates(ctx: &Context, params: &Map<String, Value>, argument: &str) -> Result<&'static [&'static str], RpcError> {
    let reference = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("completion/complete needs params.ref, an object"))?;
    match field(reference, "type", "ref.type")? {
        "ref/prompt" => {
            let name = field(reference, "name", "ref.name")?;
            let prompt = ctx
                .catalog
                .find_prompt(name)
                .ok_or_else(|| RpcError::invalid_params(format!("Unknown prompt: {name}")))?;
            let arg = prompt
                .arguments
                .iter()
                .find(|a| a.name == argument)
                .ok_or_else(|| RpcError::invalid_params(format!("prompt {name} has no argument {argument:?}")))?;
            Ok(arg.completions)
        }
        "ref/resource" => {
            let uri = field(reference, "uri", "ref.uri")?;
            let template = ctx
                .catalog
                .find_template(uri)
                .ok_or_else(|| RpcError::invalid_params(format!("Unknown resource template: {uri}")))?;
            if !template.uri_template.contains(&format!("{{{argument}}}")) {
                return Err(RpcError::invalid_params(format!(
                    "resource template {uri} has no variable {argument:?}"
                )));
            }
            Ok(template
                .completions
                .iter()
                .find(|(name, _)| *name == argument)
                .map_or(&[][..], |(_, values)| values))
        }
        other => Err(RpcError::invalid_params(format!(
            "ref.type must be ref/prompt or ref/resource, not {other:?}"
        ))),
    }
}

/// `completion/complete`.
pub fn complete(ctx: &Context, params: Option<&Value>) -> Outcome {
    let answer = (|| {
        let params = object(params, "completion/complete")?
            .ok_or_else(|| RpcError::invalid_params("completion/complete needs params with ref and argument"))?;
        let argument = params
            .get("argument")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("completion/complete needs params.argument, an object"))?;
        let name = field(argument, "name", "argument.name")?;
        let typed = field(argument, "value", "argument.value")?.to_lowercase();
        let matching: Vec<&str> = candidates(ctx, params, name)?
            .iter()
            .copied()
            .filter(|v| v.to_lowercase().starts_with(&typed))
            .collect();
        let values: Vec<&str> = matching.iter().copied().take(MAX_VALUES).collect();
        Ok(json!({"completion": {
            "values": values,
            "total": matching.len(),
            "hasMore": matching.len() > values.len(),
        }}))
    })();
    answer.into()
}
