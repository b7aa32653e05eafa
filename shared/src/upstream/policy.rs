//! Who may sign in through each upstream provider, beyond "the provider says so": the
//! organisations (GitHub) or hosted domains (Google's `hd` claim) an operator allows, and how far
//! a provider's word on an email address is trusted.
//!
//! Not for: validating what the provider sent (signatures, `aud`, nonce: see `oidc`), nor the
//! sign-up policy of this server (see `crate::accounts`).

use serde_json::Value;

use super::ProviderConfig;
use super::error::UpstreamError;
use super::identity::Identity;

/// When an email address from an OpenID provider counts as verified (`OIDC_<ID>_EMAIL_VERIFIED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailTrust {
    /// Only `email_verified: true` counts (OpenID Connect Core §5.1).
    #[default]
    Claim,
    /// The operator vouches that this provider only issues verified addresses; an explicit
    /// `email_verified: false` still refuses.
    Always,
    /// Microsoft Entra ID: the optional claim `xms_edov` (email domain owner verified). Entra never
    /// sends `email_verified`, and its `email` claim can be set by any tenant's administrator to
    /// an address nobody verified, so trusting it bare would let one tenant take over accounts.
    XmsEdov,
}

impl EmailTrust {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "claim" => Some(EmailTrust::Claim),
            "always" => Some(EmailTrust::Always),
            "xms_edov" => Some(EmailTrust::XmsEdov),
            _ => None,
        }
    }
}

/// One provider's admission rules, from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// GitHub: the user must be an active member of one of these organisations (logins, lower
    /// case). Empty: any GitHub user.
    pub allowed_orgs: Vec<String>,
    /// OpenID Connect: the ID token's `hd` (hosted domain) claim must be one of these (lower
    /// case). Empty: any domain, or none.
    pub allowed_domains: Vec<String>,
    pub email_trust: EmailTrust,
}

/// `email_verified` is a boolean in the specification; some providers send the string "true".
pub fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

fn is_false(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(false))) || matches!(v, Some(Value::String(s)) if s == "false")
}

/// Whether the provider's claims (ID token or userinfo) make the email verified under `trust`.
pub fn email_verified(trust: EmailTrust, claims: &serde_json::Map<String, Value>) -> bool {
    let claim = claims.get("email_verified");
    match trust {
        EmailTrust::Claim => is_true(claim),
        EmailTrust::Always => !is_false(claim),
        EmailTrust::XmsEdov => is_true(claim) || is_true(claims.get("xms_edov")),
    }
}

/// The checks that need only the identity: the hosted domain, when the provider restricts it.
/// GitHub's organisation check needs the access token and runs in `github::identity`.
pub fn admit(p: &ProviderConfig, identity: &Identity) -> Result<(), UpstreamError> {
    if p.policy.allowed_domains.is_empty() {
        return Ok(());
    }
    // `hd` is the domain of a Google Workspace account; a personal account has none. The `hd`
    // sent in the authorization URL is only a hint to the account chooser, so this is the check.
    let hd = identity.hosted_domain.as_deref().map(str::to_ascii_lowercase);
    if hd.is_some_and(|hd| p.policy.allowed_domains.contains(&hd)) {
        return Ok(());
    }
    Err(UpstreamError::NotAllowed(format!(
        "Your {} account is not in a domain allowed here.",
        p.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claim_trust_counts_only_email_verified_true() {
        assert!(email_verified(
            EmailTrust::Claim,
            &claims(json!({"email_verified": true}))
        ));
        assert!(email_verified(
            EmailTrust::Claim,
            &claims(json!({"email_verified": "true"}))
        ));
        assert!(!email_verified(EmailTrust::Claim, &claims(json!({}))));
        assert!(!email_verified(EmailTrust::Claim, &claims(json!({"xms_edov": true}))));
    }

    #[test]
    fn always_trust_still_refuses_an_explicit_false() {
        assert!(email_verified(EmailTrust::Always, &claims(json!({}))));
        assert!(!email_verified(
            EmailTrust::Always,
            &claims(json!({"email_verified": false}))
        ));
    }

    #[test]
    fn xms_edov_trust_counts_the_domain_owner_claim() {
        assert!(email_verified(EmailTrust::XmsEdov, &claims(json!({"xms_edov": true}))));
        assert!(!email_verified(
            EmailTrust::XmsEdov,
            &claims(json!({"xms_edov": false}))
        ));
        assert!(!email_verified(EmailTrust::XmsEdov, &claims(json!({}))));
    }
}
