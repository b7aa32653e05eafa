//! The AWS SDK configuration every client of this crate shares: one TLS stack (rustls on ring;
//! the SDKs' defaults would build two), the deadlines a caller chooses, and an optional endpoint
//! for an emulator.
//!
//! Not for: what each service does (see `mail`, `kms`, `upstream::secret`, `store::dynamo`).

use aws_config::timeout::TimeoutConfig;

/// The loaded SDK configuration with `timeouts`; `endpoint` points the clients at an emulator.
pub async fn sdk_config(endpoint: Option<&str>, timeouts: TimeoutConfig) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(timeouts);
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Deadlines for a call that a person's request waits on: connect within `connect`, done within
/// `total`, so an outage is a prompt 503 rather than a hung page.
pub fn deadlines(connect: std::time::Duration, total: std::time::Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_timeout(total)
        .build()
}
