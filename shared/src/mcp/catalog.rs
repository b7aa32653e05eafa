//! What a deployment serves, as a value: its tools, resources, resource templates and prompts,
//! and what follows from them — the resource's scopes (`scopes::Scopes`) and whether the server
//! logs.
//!
//! The deployment assembles one [`Catalog`] in one place (the fork-owned `catalog` crate's
//! `catalog()`), every function's `main` hands it to the application state (`app::AppState`),
//! and everything scope-shaped is derived from it (docs/ARCHITECTURE.md, "Tools and the catalog"):
//! `scopes_supported` in both metadata documents, the consent screen's wording, the token
//! endpoint's scope checks, `tools/list` filtering and the 403 step-up challenge.
//!
//! Not for: the methods (see `mcp::protocol::methods`), the capabilities they declare (see
//! `mcp::protocol::methods`), or the tool API itself (see `mcp::tools`).

use std::sync::Arc;

use crate::mcp::prompts::Prompt;
use crate::mcp::resources::{Cache, ReadFn, ReadRequest, Resource, ResourceTemplate, match_template};
use crate::mcp::tools::{DynTool, Tool};
use crate::scopes::Scopes;
use crate::tokens::principal::Principal;

/// The tools, resources and prompts of a deployment.
#[derive(Clone, Default)]
pub struct Catalog {
    tools: Vec<Arc<dyn DynTool>>,
    resources: Vec<Arc<Resource>>,
    templates: Vec<Arc<ResourceTemplate>>,
    prompts: Vec<Arc<Prompt>>,
    scopes: Scopes,
    instructions: &'static str,
}

/// A URI a read can be served for: a fixed resource, or a template with its variables filled in.
pub enum Found<'a> {
    Resource(&'a Resource),
    Template(&'a ResourceTemplate, ReadRequest),
}

impl Found<'_> {
    pub fn changes(&self) -> bool {
        match self {
            Found::Resource(r) => r.changes,
            Found::Template(t, _) => t.changes,
        }
    }

    /// The read function, the request to call it with, and the read's caching hints.
    pub fn into_read(self) -> (ReadFn, ReadRequest, Cache) {
        match self {
            Found::Resource(r) => (
                r.read,
                ReadRequest {
                    uri: r.uri.to_owned(),
                    variables: Default::default(),
                },
                r.cache,
            ),
            Found::Template(t, request) => (t.read, request, t.cache),
        }
    }
}

impl Catalog {
    /// A catalog serving nothing (its scopes are the two built-in ones).
    pub fn new() -> Self {
        Catalog::default()
    }

    /// Adds a typed tool (see `mcp::tools::Tool`), state and all.
    pub fn tool(self, tool: impl Tool) -> Self {
        self.dyn_tool(Arc::new(tool))
    }

    /// Adds a tool in its object-safe form (a `RawTool`, or one shared with another catalog).
    pub fn dyn_tool(mut self, tool: Arc<dyn DynTool>) -> Self {
        self.tools.push(tool);
        self.scopes = Scopes::new(self.tools.iter().flat_map(|t| t.scopes().iter().copied()));
        self
    }

    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(Arc::new(resource));
        self
    }

    pub fn template(mut self, template: ResourceTemplate) -> Self {
        self.templates.push(Arc::new(template));
        self
    }

    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.prompts.push(Arc::new(prompt));
        self
    }

    /// What the server tells clients (and their models) about its tools, in `initialize` and
    /// `server/discover`.
    pub fn instructions(mut self, text: &'static str) -> Self {
        self.instructions = text;
        self
    }

    pub fn server_instructions(&self) -> &'static str {
        self.instructions
    }

    /// The resource's scopes: the built-in two, then those the tools declare.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    pub fn tools(&self) -> impl Iterator<Item = &dyn DynTool> {
        self.tools.iter().map(|t| &**t)
    }

    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().map(|r| &**r)
    }

    pub fn templates(&self) -> impl Iterator<Item = &ResourceTemplate> {
        self.templates.iter().map(|t| &**t)
    }

    pub fn prompts(&self) -> impl Iterator<Item = &Prompt> {
        self.prompts.iter().map(|p| &**p)
    }

    /// Some tool sends `notifications/message`, so the `logging` capability is declared.
    pub fn logs(&self) -> bool {
        self.tools.iter().any(|t| t.logs())
    }

    pub fn find_tool(&self, name: &str) -> Option<&dyn DynTool> {
        self.tools().find(|t| t.name() == name)
    }

    /// The tools a caller may call: those whose own scopes the caller holds.
    pub fn visible_tools<'a>(&'a self, principal: &'a Principal) -> impl Iterator<Item = &'a dyn DynTool> + 'a {
        self.tools()
            .filter(|t| t.scopes().iter().all(|s| principal.has(s.name)))
    }

    pub fn find_prompt(&self, name: &str) -> Option<&Prompt> {
        self.prompts().find(|p| p.name == name)
    }

    pub fn find_template(&self, uri_template: &str) -> Option<&ResourceTemplate> {
        self.templates().find(|t| t.uri_template == uri_template)
    }

    /// What serves `uri`: a fixed resource first, then the first template that matches.
    pub fn find_resource(&self, uri: &str) -> Option<Found<'_>> {
        if let Some(r) = self.resources().find(|r| r.uri == uri) {
            return Some(Found::Resource(r));
        }
        self.templates().find_map(|t| {
            match_template(t.uri_template, uri).map(|variables| {
                Found::Template(
                    t,
                    ReadRequest {
                        uri: uri.to_owned(),
                        variables,
                    },
                )
            })
        })
    }

    /// Some resource or template never changes: the only kind a server without a stream can
    /// honour a `resources/subscribe` for.
    pub fn has_unchanging_resources(&self) -> bool {
        self.resources().any(|r| !r.changes) || self.templates().any(|t| !t.changes)
    }

    /// Appends every entry of `other` after this catalog's own.
    pub fn merge(mut self, other: Catalog) -> Self {
        self.resources.extend(other.resources);
        self.templates.extend(other.templates);
        self.prompts.extend(other.prompts);
        if self.instructions.is_empty() {
            self.instructions = other.instructions;
        }
        for tool in other.tools {
            self = self.dyn_tool(tool);
        }
        self
    }
}
