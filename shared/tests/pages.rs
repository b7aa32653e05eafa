//! The HTML pages: escaping of every user-controlled value, the security headers and the CSP
//! hash of the style block, plain POST forms with the fields the authorize handler reads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use http_body_util::BodyExt;
use maud::Markup;
use mcp_oauth::endpoints::pages::{
    self, ConsentPage, Hidden, LoginPage, SignupPage, consent, login, redirect_target, signup,
};
use mcp_oauth::scopes::ScopeInfo;
use sha2::{Digest, Sha256};

const EVIL: &str = "<script>alert(1)</script>";
const QUOTED: &str = r#"x" onmouseover="alert(1)"#;
const HIDDEN: Hidden = &[
    ("client_id", "c1"),
    ("state", QUOTED),
    ("redirect_uri", "http://127.0.0.1:1234/cb"),
];
const ACTION: &str = "/oauth/authorize";

fn login_page<'a>(providers: &'a [(&'a str, &'a str)]) -> LoginPage<'a> {
    LoginPage {
        action: ACTION,
        hidden: HIDDEN,
        csrf: "csrf-login",
        client_name: EVIL,
        email: "a@example.com",
        error: Some(EVIL),
        signup_available: true,
        providers,
    }
}

fn signup_page() -> SignupPage<'static> {
    SignupPage {
        action: ACTION,
        hidden: HIDDEN,
        csrf: "csrf-signup",
        client_name: EVIL,
        email: EVIL,
        error: Some(EVIL),
        password_rules: &["At least 12 characters", EVIL],
    }
}

fn consent_page(offline_access: bool) -> ConsentPage<'static> {
    ConsentPage {
        action: ACTION,
        hidden: HIDDEN,
        client_name: EVIL,
        client_host: None,
        redirect_host: "app.example.net",
        user_email: EVIL,
        logout_action: "/oauth/logout",
        scopes: resource_scopes(),
        offline_access,
        csrf: "csrf-consent",
    }
}

/// Every page, rendered with hostile values wherever the caller passes user-controlled text.
fn all_pages() -> Vec<(&'static str, String)> {
    vec![
        ("login", login(&login_page(&[("github", EVIL)])).into_string()),
        ("login without providers", login(&login_page(&[])).into_string()),
        ("signup", signup(&signup_page()).into_string()),
        ("consent", consent(&consent_page(true)).into_string()),
        ("error", pages::error(EVIL, EVIL).into_string()),
    ]
}

/// The text of the page's one `<style>` block.
fn style_text(page: &str) -> &str {
    assert_eq!(page.matches("<style").count(), 1, "exactly one style block");
    let start = page.find("<style>").expect("a <style> block") + "<style>".len();
    let end = page.find("</style>").expect("a closed style block");
    &page[start..end]
}

/// Every `<form …>` start tag.
fn form_tags(page: &str) -> Vec<&str> {
    page.match_indices("<form")
        .map(|(i, _)| &page[i..i + page[i..].find('>').expect("closed tag")])
        .collect()
}

/// Each form's markup, from `<form` to `</form>`.
fn forms(page: &str) -> Vec<&str> {
    page.match_indices("<form")
        .map(|(i, _)| &page[i..i + page[i..].find("</form>").expect("closed form")])
        .collect()
}

async fn respond(page: Markup) -> (http::response::Parts, String) {
    let (parts, body) = pages::html(StatusCode::BAD_REQUEST, page).into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

#[test]
fn every_page_escapes_user_controlled_values() {
    for (name, page) in all_pages() {
        assert!(!page.contains(EVIL), "{name}: raw client-controlled markup");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{name}: value not shown escaped"
        );
        assert!(
            !page.contains(QUOTED),
            "{name}: hidden value breaks out of its attribute"
        );
    }
}

#[test]
fn hidden_values_with_quotes_stay_inside_their_attribute() {
    let page = login(&login_page(&[])).into_string();
    assert!(page.contains(r#"name="state" value="x&quot; onmouseover=&quot;alert(1)""#));
}

#[test]
fn no_page_contains_a_script() {
    for (name, page) in all_pages() {
        assert!(
            !page.to_ascii_lowercase().contains("<script"),
            "{name} contains a script"
        );
    }
}

#[test]
fn no_page_uses_inline_style_attributes_the_csp_would_block() {
    for (name, page) in all_pages() {
        assert!(!page.contains(" style="), "{name} has a style attribute");
    }
}

#[test]
fn every_page_has_the_viewport_meta_tag() {
    for (name, page) in all_pages() {
        assert!(
            page.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#),
            "{name} lacks the viewport meta tag"
        );
        assert!(page.starts_with("<!DOCTYPE html>"), "{name} lacks the doctype");
    }
}

#[test]
fn every_page_uses_the_one_style_block_the_csp_allows() {
    let expected = format!("'sha256-{}'", STANDARD.encode(Sha256::digest(pages::CSS.as_bytes())));
    assert_eq!(pages::style_hash(), expected);
    for (name, page) in all_pages() {
        assert_eq!(style_text(&page), pages::CSS, "{name} carries a different style block");
    }
}

#[tokio::test]
async fn html_sets_every_security_header() {
    let (parts, body) = respond(login(&login_page(&[]))).await;
    assert_eq!(parts.status, StatusCode::BAD_REQUEST);
    let h = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("content-type"), "text/html; charset=utf-8");
    let csp = h("content-security-policy");
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for d in [
        "default-src 'none'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(directives.contains(&d), "CSP lacks {d}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline"),
        "CSP allows inline styles wholesale: {csp}"
    );
    assert!(!csp.contains("script-src"), "CSP allows some script: {csp}");
    // Chrome applies form-action to the redirect after a POST, which would block the redirect to
    // the client; the policy must not set it.
    assert!(!csp.contains("form-action"), "CSP sets form-action: {csp}");
    assert!(body.starts_with("<!DOCTYPE html>"));
}

#[tokio::test]
async fn csp_style_hash_matches_the_style_block_in_the_page() {
    let (parts, body) = respond(consent(&consent_page(false))).await;
    let csp = parts.headers["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    let hash = format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(style_text(&body).as_bytes()))
    );
    assert!(
        csp.split(';').map(str::trim).any(|d| d == format!("style-src {hash}")),
        "{csp} does not allow {hash}"
    );
}

#[test]
fn every_form_posts_to_the_given_action_with_the_hidden_fields_and_csrf() {
    let cases = [
        (
            login(&login_page(&[("github", "GitHub")])).into_string(),
            "csrf-login",
            4,
        ),
        (signup(&signup_page()).into_string(), "csrf-signup", 2),
    ];
    for (page, csrf, count) in cases {
        let tags = form_tags(&page);
        assert_eq!(tags.len(), count, "{tags:?}");
        for tag in tags {
            assert!(tag.contains(r#"method="post""#), "{tag}");
            assert!(tag.contains(r#"action="/oauth/authorize""#), "{tag}");
        }
        for form in forms(&page) {
            assert!(
                form.contains(r#"<input type="hidden" name="client_id" value="c1">"#),
                "{form}"
            );
            assert!(
                form.contains(r#"name="redirect_uri" value="http://127.0.0.1:1234/cb""#),
                "{form}"
            );
            assert!(
                form.contains(&format!(r#"<input type="hidden" name="csrf" value="{csrf}">"#)),
                "{form}"
            );
        }
    }
}

#[test]
fn login_form_posts_email_password_and_action_login() {
    let page = login(&login_page(&[])).into_string();
    let main = forms(&page)
        .into_iter()
        .find(|f| f.contains(r#"name="password""#))
        .expect("login form");
    assert!(main.contains(r#"type="email" name="email" value="a@example.com" autocomplete="email""#));
    assert!(main.contains(r#"type="password" name="password" autocomplete="current-password""#));
    assert!(main.contains(r#"type="submit" name="action" value="login""#));
    assert!(main.contains(r#"<label for="email">"#) && main.contains(r#"<label for="password">"#));
}

#[test]
fn login_shows_the_error_in_an_alert() {
    let page = login(&login_page(&[])).into_string();
    assert!(page.contains(r#"role="alert""#));
    let page = login(&LoginPage {
        error: None,
        ..login_page(&[])
    })
    .into_string();
    assert!(!page.contains(r#"role="alert""#));
}

#[test]
fn login_switches_to_signup_only_when_signup_is_available() {
    let page = login(&login_page(&[])).into_string();
    assert!(page.contains(r#"name="action" value="show_signup""#));
    let page = login(&LoginPage {
        signup_available: false,
        ..login_page(&[])
    })
    .into_string();
    assert!(!page.contains("show_signup"));
}

#[test]
fn login_renders_provider_buttons_only_when_given() {
    let page = login(&login_page(&[])).into_string();
    assert!(!page.contains(r#"name="provider""#));
    assert!(!page.contains(r#"class="or""#));

    let page = login(&login_page(&[("github", "GitHub"), ("google", "Google")])).into_string();
    assert!(page.contains(r#"<button type="submit" name="provider" value="github">Continue with GitHub</button>"#));
    assert!(page.contains(r#"<button type="submit" name="provider" value="google">Continue with Google</button>"#));
    let providers_at = page.find(r#"name="provider""#).expect("provider buttons");
    let or_at = page.find(r#"class="or""#).expect("or separator");
    let password_at = page.find(r#"name="password""#).expect("password field");
    assert!(
        providers_at < or_at && or_at < password_at,
        "providers come above the separator and the form"
    );
}

#[test]
fn password_is_only_in_the_form_that_submits_it() {
    let page = login(&login_page(&[("github", "GitHub")])).into_string();
    for form in forms(&page) {
        assert_eq!(
            form.contains(r#"name="password""#),
            form.contains(r#"value="login""#),
            "{form}"
        );
    }
}

#[test]
fn signup_form_posts_email_new_password_and_action_signup_and_can_go_back_to_login() {
    let page = signup(&signup_page()).into_string();
    assert!(page.contains(r#"autocomplete="email""#));
    assert!(page.contains(r#"type="password" name="password" autocomplete="new-password""#));
    assert!(page.contains(r#"type="submit" name="action" value="signup""#));
    assert!(page.contains(r#"type="submit" name="action" value="show_login""#));
    assert!(page.contains("<li>At least 12 characters</li>"));
    assert!(page.contains(r#"aria-describedby="password-rules""#));
}

/// Every scope of the deployment's catalog, as the consent screen describes them.
fn resource_scopes() -> &'static [ScopeInfo] {
    // A page borrows its scopes; a test's leak of a few bytes is what makes them 'static.
    catalog::catalog().scopes().all().to_vec().leak()
}

#[test]
fn consent_lists_every_scope_description_and_the_redirect_host() {
    let page = consent(&consent_page(false)).into_string();
    for scope in resource_scopes() {
        assert!(page.contains(scope.description), "missing {}", scope.name);
    }
    assert!(page.contains("app.example.net"));
    assert!(!page.contains("Stay connected"));
}

#[test]
fn consent_has_approve_and_deny_buttons_and_the_csrf_field() {
    let page = consent(&consent_page(false)).into_string();
    let decision = forms(&page)
        .into_iter()
        .find(|f| f.contains(r#"action="/oauth/authorize""#))
        .expect("decision form");
    assert!(decision.contains(r#"method="post""#));
    assert!(decision.contains(r#"name="action" value="approve""#));
    assert!(decision.contains(r#"name="action" value="deny""#));
    assert!(decision.contains(r#"<input type="hidden" name="csrf" value="csrf-consent">"#));
    assert!(decision.contains(r#"name="client_id" value="c1""#));
    // Approve is the primary button.
    assert!(decision.contains(r#"<button class="primary" type="submit" name="action" value="approve">"#));
}

#[test]
fn consent_offers_sign_out_to_the_logout_action_with_csrf() {
    let page = consent(&consent_page(false)).into_string();
    let logout = forms(&page)
        .into_iter()
        .find(|f| f.contains(r#"action="/oauth/logout""#))
        .expect("sign-out form");
    assert!(logout.contains(r#"method="post""#));
    assert!(logout.contains(r#"<input type="hidden" name="csrf" value="csrf-consent">"#));
    assert!(logout.contains(r#"name="client_id" value="c1""#));
    assert!(logout.contains("Signed in as"));
}

#[test]
fn consent_says_access_lasts_until_revoked_when_offline_access_is_asked() {
    let page = consent(&consent_page(true)).into_string();
    assert!(page.contains("Stay connected"));
    assert!(page.contains("can keep access until you revoke it"));
}

#[test]
fn consent_isolates_the_client_name_and_shows_the_document_host_outside_it() {
    let spoof = "\u{202e}edualC\u{202c}";
    let page = consent(&ConsentPage {
        client_name: spoof,
        client_host: Some("docs.example.com"),
        ..consent_page(true)
    })
    .into_string();
    let isolated = format!("<bdi>{spoof}</bdi>");
    let named = format!(r#"{isolated} <span class="host">(docs.example.com)</span>"#);
    assert!(page.contains(&format!("<h1><strong>{named}</strong> wants")), "{page}");
    assert!(page.contains(&format!("This will allow {named} to:")), "{page}");
    assert!(page.contains(&format!("{isolated} can keep access")), "{page}");
    assert!(page.contains(&format!("sign-in from {named}.")), "{page}");
    assert_eq!(
        page.matches(spoof).count(),
        page.matches(&isolated).count() + 1,
        "every use is isolated, the title by U+2068…U+2069: {page}"
    );
    assert!(page.contains(&format!("Allow \u{2068}{spoof}\u{2069} to access")));
}

#[test]
fn error_page_offers_no_link_anywhere() {
    let page = pages::error("This sign-in link is not valid", "The redirect URI is not registered.").into_string();
    assert!(page.contains("This sign-in link is not valid"));
    assert!(page.contains("The redirect URI is not registered."));
    assert!(!page.contains("<a "), "no link back to an unverified redirect URI");
    assert!(!page.contains("<form"));
}

#[test]
fn redirect_target_names_the_host_or_the_custom_scheme() {
    assert_eq!(redirect_target("https://claude.ai/api/mcp/auth_callback"), "claude.ai");
    assert_eq!(
        redirect_target("https://app.example.com:8443/cb"),
        "app.example.com:8443"
    );
    assert_eq!(
        redirect_target("http://127.0.0.1:33418/callback"),
        "127.0.0.1:33418 (an app on this computer)"
    );
    assert_eq!(
        redirect_target("http://localhost/cb"),
        "localhost (an app on this computer)"
    );
    assert_eq!(
        redirect_target("http://[::1]:9/cb"),
        "[::1]:9 (an app on this computer)"
    );
    assert_eq!(
        redirect_target("cursor://anysphere.cursor-retrieval/oauth/cb"),
        "the app that opens cursor: links"
    );
}
