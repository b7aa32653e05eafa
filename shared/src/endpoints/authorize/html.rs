//! The authorization endpoint's HTML answers that are not steps of the flow: error pages, and
//! reading a form body as a page would (an error page, never JSON: the browser is a person).

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::endpoints::pages;
use crate::form::{self, Params};
use crate::http::ApiError;

pub(super) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    pages::html(status, pages::error(title, message))
}

/// An internal failure (the store, mostly) as a page: the browser is a person, not a client.
/// The error's headers (a 503's `Retry-After`) come along.
pub(super) fn failure_page(e: ApiError) -> Response {
    let mut res = error_page(e.status, "Something went wrong", &e.description);
    for (name, value) in &e.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            res.headers_mut().insert(name.clone(), v);
        }
    }
    res
}

/// Reads a form body for the HTML endpoints, answering an error page rather than JSON.
pub(super) async fn read_form(req: Request) -> Result<(HeaderMap, Params), Response> {
    let headers = req.headers().clone();
    if !form::content_type_is(&headers, "application/x-www-form-urlencoded") {
        return Err(error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form could not be read",
            "Expected a form submission.",
        ));
    }
    let body = form::read_body(req)
        .await
        .map_err(|e| error_page(e.status, "This form could not be read", &e.description))?;
    let params = Params::parse(&body)
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, "This form could not be read", &e.description))?;
    Ok((headers, params))
}
