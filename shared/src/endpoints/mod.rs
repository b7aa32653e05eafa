//! The HTTP endpoints of the authorization server: each module is one endpoint's handlers and its
//! router. They sit on top: they import the domain (`tokens`, `clients`, `accounts`, `upstream`,
//! `keys`), the state (`app`, `urls`) and infrastructure, and nothing below imports them.

pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod layers;
pub mod pages;
pub mod register;
pub mod revoke;
pub mod token;
