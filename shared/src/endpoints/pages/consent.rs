//! The consent page: which client asks for what, where the user will be sent back to, and the
//! approve and deny buttons.
//!
//! Everything the client chose about itself is isolated in `<bdi>`, so that its text cannot
//! reorder the words around it; the host that vouches for a metadata-document client comes from
//! our own parsing and is shown outside that isolate.
//!
//! Not for: deciding whether consent is needed, or recording it (see `authorize`).

use maud::{Markup, html};

use super::Hidden;
use super::layout::{hidden_fields, page};
use crate::scopes::ScopeInfo;

/// The consent page of the authorize flow.
pub struct ConsentPage<'a> {
    pub action: &'a str,
    pub hidden: Hidden<'a>,
    /// The client's self-declared name.
    pub client_name: &'a str,
    /// For a metadata-document client, the host that serves its document (parsed by us from the
    /// `client_id`), shown after the name and outside its isolate.
    pub client_host: Option<&'a str>,
    /// Where the user goes next, shown plainly (see [`redirect_target`]).
    pub redirect_host: &'a str,
    /// "Signed in as …", next to a sign-out button.
    pub user_email: &'a str,
    /// The sign-out form's action; it posts the hidden fields, `csrf` and `action=logout`.
    pub logout_action: &'a str,
    /// Each requested scope with its plain-language description.
    pub scopes: &'a [ScopeInfo],
    /// The client asked for `offline_access`: say that access lasts until revoked.
    pub offline_access: bool,
    /// CSRF token, the hidden field `csrf` of both forms.
    pub csrf: &'a str,
}

/// The consent page. Its form posts the hidden fields, `csrf` and `action=approve` or
/// `action=deny`.
pub fn consent(p: &ConsentPage) -> Markup {
    let initial = p
        .client_name
        .chars()
        .next()
        .map_or('?', |c| c.to_uppercase().next().unwrap_or(c));
    // `<bdi>`: the name's own direction cannot spill into the sentence around it.
    let name = html! { bdi { (p.client_name) } };
    let named = html! {
        (name)
        @if let Some(host) = p.client_host {
            " " span.host { "(" (host) ")" }
        }
    };
    let body = html! {
        div.avatar aria-hidden="true" { (initial) }
        h1 { strong { (named) } " wants to access your account" }
        form.account method="post" action=(p.logout_action) {
            (hidden_fields(p.hidden, p.csrf))
            "Signed in as " strong { (p.user_email) } " · "
            button.link type="submit" name="action" value="logout" { "Sign out" }
            " · "
            // Opens in a new tab, so the pending approval stays where it is.
            a.link href="/account" target="_blank" rel="noopener" { "Connected apps" }
        }
        h2 { "This will allow " (named) " to:" }
        ul.scopes {
            @for scope in p.scopes {
                li { (scope.description) }
            }
            @if p.scopes.is_empty() {
                li { "Connect to this server as you" }
            }
        }
        @if p.offline_access {
            p.note {
                strong { "Stay connected: " }
                (name) " can keep access until you revoke it, without asking again. \
                 Access left unused ends after a while, and all access after a fixed maximum."
            }
        }
        form method="post" action=(p.action) {
            (hidden_fields(p.hidden, p.csrf))
            div.actions {
                button type="submit" name="action" value="deny" { "Deny" }
                button.primary type="submit" name="action" value="approve" { "Allow" }
            }
        }
        p.fine {
            "You will be sent back to " strong { (p.redirect_host) } ". "
            // The name is chosen by the client itself, so the user is told to check who asked.
            "Only allow this if you started this sign-in from " (named) "."
        }
    };
    // A title holds no markup: U+2068 FIRST STRONG ISOLATE … U+2069 POP DIRECTIONAL ISOLATE is
    // the plain-text form of `<bdi>`.
    page(
        &format!("Allow \u{2068}{}\u{2069} to access your account?", p.client_name),
        body,
    )
}

/// How the consent page names a redirect URI's destination: the host (and port) of an http(s)
/// URI, marked as this computer for loopback, or for a private-use scheme (`cursor://…`) the
/// app that handles that scheme.
pub fn redirect_target(redirect_uri: &str) -> String {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    match (url.scheme(), url.host()) {
        ("http" | "https", Some(host)) => {
            let shown = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            let loopback = match host {
                url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            };
            if loopback {
                format!("{shown} (an app on this computer)")
            } else {
                shown
            }
        }
        (scheme, _) => format!("the app that opens {scheme}: links"),
    }
}
