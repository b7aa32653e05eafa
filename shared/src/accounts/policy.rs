//! Who may create an account and sign in: `SIGNUP=open|invite|closed` and an allow-list of email
//! domains (`SIGNUP_EMAIL_DOMAINS`), read once at start-up.
//!
//! - `open`: anyone may sign up, with a password or through an upstream provider.
//! - `invite`: a new account needs a single-use invite an operator created (`accounts::invites`);
//!   existing accounts sign in as before.
//! - `closed`: no new accounts at all; existing accounts sign in as before.
//!
//! The domain list applies to every sign-in, not only to sign-up, so that narrowing it later also
//! shuts out accounts created before. An invite that names an email address lets that one address
//! in whatever the list says: the operator chose it. A refusal says why on a page and creates
//! nothing.
//!
//! Not for: per-provider rules (GitHub organisations, Google hosted domains), which live with the
//! providers in `upstream`.

use crate::env::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignupMode {
    #[default]
    Open,
    Invite,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignupPolicy {
    pub mode: SignupMode,
    /// Lower-cased domains an email must belong to; empty means any.
    pub domains: Vec<String>,
}

/// Why a sign-up or sign-in is refused; the message is shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("New accounts cannot be created here. Ask the administrator of this server for access.")]
    Closed,
    #[error("Accounts here are by invitation only. Open the invitation link you were sent, then try again.")]
    InviteRequired,
    #[error("This invitation is not valid: it has expired, was already used, or is for another email address.")]
    InvalidInvite,
    #[error("Only email addresses at {0} can be used here.")]
    Domain(String),
    #[error("This account has been disabled by the administrator of this server.")]
    Disabled,
}

impl SignupPolicy {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let err = |var: &'static str, expected: &'static str, got: &str| ConfigError {
            var,
            expected,
            got: got.to_owned(),
        };
        let mode = match get("SIGNUP").as_deref() {
            None | Some("open") => SignupMode::Open,
            Some("invite") => SignupMode::Invite,
            Some("closed") => SignupMode::Closed,
            Some(other) => return Err(err("SIGNUP", "open, invite or closed", other)),
        };
        let mut domains = Vec::new();
        for d in get("SIGNUP_EMAIL_DOMAINS")
            .unwrap_or_default()
            .split(',')
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
        {
            let plausible = d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !plausible {
                return Err(err(
                    "SIGNUP_EMAIL_DOMAINS",
                    "comma-separated domains such as example.com,corp.example",
                    &d,
                ));
            }
            domains.push(d);
        }
        Ok(SignupPolicy { mode, domains })
    }

    /// Whether a normalised email's domain is allowed (exactly; subdomains must be listed).
    pub fn allows_email(&self, normalized_email: &str) -> Result<(), Refusal> {
        if self.domains.is_empty() {
            return Ok(());
        }
        let domain = normalized_email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if self.domains.iter().any(|d| d == domain) {
            Ok(())
        } else {
            Err(Refusal::Domain(self.domains.join(", ")))
        }
    }

    /// Whether a new account may be created for `normalized_email`, given whether the person
    /// holds a valid invite (and the address the invite names, if any).
    pub fn allows_signup(&self, normalized_email: &str, invite: Option<Option<&str>>) -> Result<(), Refusal> {
        match (self.mode, invite) {
            (SignupMode::Closed, _) => Err(Refusal::Closed),
            // An invite for this very address: the operator chose it, whatever the domain list says.
            (_, Some(Some(named))) if named == normalized_email => Ok(()),
            (_, Some(Some(_))) => Err(Refusal::InvalidInvite),
            (SignupMode::Invite, None) => Err(Refusal::InviteRequired),
            _ => self.allows_email(normalized_email),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(vars: &[(&str, &str)]) -> Result<SignupPolicy, ConfigError> {
        SignupPolicy::from_lookup(&|k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_default_is_open_to_any_domain() {
        let p = policy(&[]).unwrap();
        assert_eq!(p.mode, SignupMode::Open);
        assert_eq!(p.allows_signup("a@anything.example", None), Ok(()));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        assert_eq!(policy(&[("SIGNUP", "maybe")]).unwrap_err().var, "SIGNUP");
        assert_eq!(
            policy(&[("SIGNUP_EMAIL_DOMAINS", "example.com, not a domain")])
                .unwrap_err()
                .var,
            "SIGNUP_EMAIL_DOMAINS"
        );
    }

    #[test]
    fn the_domain_list_is_exact_and_case_insensitive() {
        let p = policy(&[("SIGNUP_EMAIL_DOMAINS", "Example.com,@corp.example")]).unwrap();
        assert_eq!(p.allows_email("a@example.com"), Ok(()));
        assert_eq!(p.allows_email("b@corp.example"), Ok(()));
        assert!(p.allows_email("c@sub.example.com").is_err());
        assert!(p.allows_email("d@example.com.evil.example").is_err());
    }

    #[test]
    fn invite_mode_needs_an_invite_and_an_email_bound_invite_needs_that_email() {
        let p = policy(&[("SIGNUP", "invite"), ("SIGNUP_EMAIL_DOMAINS", "example.com")]).unwrap();
        assert_eq!(p.allows_signup("a@example.com", None), Err(Refusal::InviteRequired));
        assert_eq!(p.allows_signup("a@example.com", Some(None)), Ok(()));
        assert!(p.allows_signup("a@other.example", Some(None)).is_err());
        assert_eq!(
            p.allows_signup("guest@other.example", Some(Some("guest@other.example"))),
            Ok(())
        );
        assert_eq!(
            p.allows_signup("else@other.example", Some(Some("guest@other.example"))),
            Err(Refusal::InvalidInvite)
        );
    }

    #[test]
    fn closed_refuses_every_new_account() {
        let p = policy(&[("SIGNUP", "closed")]).unwrap();
        assert_eq!(p.allows_signup("a@example.com", Some(None)), Err(Refusal::Closed));
    }
}
