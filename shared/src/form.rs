//! Form-encoded request bodies of the OAuth endpoints (`application/x-www-form-urlencoded`).
//!
//! RFC 6749 §3.1: a parameter sent twice is an error, and one sent without a value counts as
//! omitted. Bodies are capped by [`BODY_LIMIT`]; an oversize body gets 413, a wrong content type
//! 400, both as OAuth error JSON.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::{StatusCode, header};

use crate::http::{ApiError, ErrorCode};

/// The largest form or JSON body an OAuth endpoint reads.
pub const BODY_LIMIT: usize = 16 * 1024;

#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses a form body, refusing repeated parameters.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidRequest,
                    format!("parameter {k} is repeated"),
                ));
            }
        }
        Ok(Params(map))
    }

    /// A parameter's value; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidRequest, format!("parameter {name} is required")))
    }
}

/// True when the request's content type is `media` (parameters such as charset allowed).
pub fn content_type_is(headers: &http::HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}

/// Reads a body of at most [`BODY_LIMIT`] bytes, answering 413 past that.
///
/// By hand rather than `RequestBodyLimitLayer`: the 413 must be OAuth error JSON (an error page
/// on the authorize forms, which read with it too), while the layer answers before the handler
/// with a body of its own.
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    let body = axum::body::to_bytes(req.into_body(), BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!("the body is larger than {BODY_LIMIT} bytes"),
        )
    })?;
    Ok(body)
}

/// Extracts [`Params`] from a form POST.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        Ok(Form(Params::parse(&read_body(req).await?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(Params::parse(b"a=1&a=2").unwrap_err().error, ErrorCode::InvalidRequest);
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"a=&b=x").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("x"));
        assert!(p.require("a").is_err());
    }
}
