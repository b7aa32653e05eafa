//! The errors of an upstream sign-in, worded for the user (the sign-in page shows them).

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    #[error("{0} could not be reached. Try again in a moment.")]
    Unreachable(String),
    #[error("{0} did not accept the sign-in. Try again.")]
    Refused(String),
    #[error("The answer from {0} could not be verified ({1}). Try again.")]
    Unverifiable(String, String),
    #[error("{0} did not share a verified email address, which this server needs to sign you in.")]
    NoVerifiedEmail(String),
    #[error("Sign-in with {0} is not set up correctly on this server.")]
    Misconfigured(String),
    /// The client secret could not be read (Secrets Manager unreachable): answered as 503.
    #[error("Sign-in with {0} is unavailable for a moment. Try again shortly.")]
    SecretUnavailable(String),
    /// The provider vouched for the user, but this server's policy for it does not admit them
    /// (organisation, domain); the message says which.
    #[error("{0}")]
    NotAllowed(String),
}
