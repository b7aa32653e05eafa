//! The HTTP endpoints: each module is one endpoint's handlers and its router, the authorization
//! server's and the MCP endpoint's (`mcp`, Streamable HTTP over the `crate::mcp` layer). They sit
//! on top: they import the domain (`tokens`, `clients`, `accounts`, `upstream`, `keys`), MCP, the
//! state (`app`, `urls`) and infrastructure, and nothing below imports them.

pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod layers;
pub mod mcp;
pub mod pages;
pub mod register;
pub mod revoke;
pub mod token;
