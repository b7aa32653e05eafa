//! What this deployment serves: its tools, resources, resource templates and prompts, and the
//! capabilities that follow from them. A deployment serves the registries of `tools`, `resources`
//! and `prompts`; with `MCP_CONFORMANCE_FIXTURES` on, the conformance suite's fixtures
//! (`mcp::fixtures`) follow them.
//!
//! Capabilities name only what is there:
//! - `tools`, `resources`, `prompts` and `completions`: always, since their methods always answer
//!   (lists may be empty), and never with `listChanged`, since the lists change only with a
//!   deployment;
//! - `resources.subscribe`: under 2025 revisions only (2026-07-28 moved subscriptions to
//!   `subscriptions/listen`, which needs a held-open stream), and only when some resource never
//!   changes — the only kind a server without a stream can honour a subscription for;
//! - `logging`: only when some tool sends log messages.
//!
//! Not for: the methods (see `mcp::protocol::methods`) or the registries' entry types.

use std::sync::LazyLock;

use serde_json::{Value, json};

use crate::config::Config;
use crate::mcp::fixtures;
use crate::mcp::prompts::{self, Prompt};
use crate::mcp::protocol::Revision;
use crate::mcp::resources::{self, Cache, ReadFn, ReadRequest, Resource, ResourceTemplate, match_template};
use crate::mcp::tools::{self, Principal, Tool};

pub struct Catalog {
    pub tools: Vec<&'static Tool>,
    pub resources: Vec<&'static Resource>,
    pub templates: Vec<&'static ResourceTemplate>,
    pub prompts: Vec<&'static Prompt>,
    /// Some tool sends `notifications/message`, so the `logging` capability is declared.
    pub logging: bool,
}

/// A URI a read can be served for: a fixed resource, or a template with its variables filled in.
pub enum Found {
    Resource(&'static Resource),
    Template(&'static ResourceTemplate, ReadRequest),
}

impl Found {
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

static PRODUCTION: LazyLock<Catalog> = LazyLock::new(|| Catalog {
    tools: tools::registry().iter().collect(),
    resources: resources::registry().iter().collect(),
    templates: resources::templates().iter().collect(),
    prompts: prompts::registry().iter().collect(),
    logging: false,
});

static WITH_FIXTURES: LazyLock<Catalog> = LazyLock::new(|| Catalog {
    tools: tools::registry().iter().chain(fixtures::tools()).collect(),
    resources: resources::registry().iter().chain(fixtures::resources()).collect(),
    templates: resources::templates().iter().chain(fixtures::templates()).collect(),
    prompts: prompts::registry().iter().chain(fixtures::prompts()).collect(),
    logging: true,
});

impl Catalog {
    /// The catalog `config` asks for.
    pub fn for_config(config: &Config) -> &'static Catalog {
        if config.conformance_fixtures {
            &WITH_FIXTURES
        } else {
            &PRODUCTION
        }
    }

    /// The deployment's own registries.
    pub fn production() -> &'static Catalog {
        &PRODUCTION
    }

    /// The deployment's registries and the conformance fixtures.
    pub fn with_fixtures() -> &'static Catalog {
        &WITH_FIXTURES
    }

    pub fn tool(&self, name: &str) -> Option<&'static Tool> {
        self.tools.iter().copied().find(|t| t.name == name)
    }

    /// The tools a caller may call: those whose own scopes the caller holds.
    pub fn visible_tools<'a>(&'a self, principal: &'a Principal) -> impl Iterator<Item = &'static Tool> + 'a {
        self.tools
            .iter()
            .copied()
            .filter(|t| t.scopes.iter().all(|s| principal.has(s)))
    }

    pub fn prompt(&self, name: &str) -> Option<&'static Prompt> {
        self.prompts.iter().copied().find(|p| p.name == name)
    }

    pub fn template(&self, uri_template: &str) -> Option<&'static ResourceTemplate> {
        self.templates.iter().copied().find(|t| t.uri_template == uri_template)
    }

    /// What serves `uri`: a fixed resource first, then the first template that matches.
    pub fn resource(&self, uri: &str) -> Option<Found> {
        if let Some(r) = self.resources.iter().copied().find(|r| r.uri == uri) {
            return Some(Found::Resource(r));
        }
        self.templates.iter().copied().find_map(|t| {
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

    /// Whether `resources/subscribe` can be honoured for some resource (see the module docs).
    pub fn subscribable(&self, revision: Revision) -> bool {
        !revision.is_modern()
            && (self.resources.iter().any(|r| !r.changes) || self.templates.iter().any(|t| !t.changes))
    }

    /// The `capabilities` object for `initialize` and `server/discover`.
    pub fn capabilities(&self, revision: Revision) -> Value {
        let mut resources = json!({});
        if self.subscribable(revision) {
            resources["subscribe"] = true.into();
        }
        let mut caps = json!({
            "tools": {"listChanged": false},
            "resources": resources,
            "prompts": {},
            "completions": {},
        });
        if self.logging {
            caps["logging"] = json!({});
        }
        caps
    }
}
