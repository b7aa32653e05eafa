//! Envelope encryption of signing keys under an AWS KMS key (`aws-sdk-kms` `Encrypt`/`Decrypt`).
//!
//! Each ciphertext is bound to what it is and to the key it belongs to by its encryption context
//! (`purpose`, `kid`): KMS refuses to decrypt it under any other context, so a wrapped blob moved
//! to another record does not decrypt, and IAM can grant `kms:Decrypt` for one purpose only
//! (`kms:EncryptionContext:purpose`; the MCP function may unwrap request-state secrets, never
//! private keys). See `docs/ARCHITECTURE.md` decision 13.
//!
//! Not for: which keys exist or when they rotate (see `keys`).

use std::time::Duration;

use aws_sdk_kms::primitives::Blob;

/// What a ciphertext holds: the value of its `purpose` encryption context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A signing key's PKCS#8 DER: only the token function (and operators) unwrap it.
    SigningKey,
    /// The 32-byte secret that seals MCP `requestState` for tokens signed by one key.
    RequestState,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SigningKey => "signing-key",
            Purpose::RequestState => "request-state",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// KMS could not be reached, throttled, or refused: answered as 503, the cause logged.
    #[error("kms {operation} failed: {cause}")]
    Unavailable { operation: &'static str, cause: String },
}

/// A KMS client and the key that wraps signing keys.
#[derive(Clone)]
pub struct Kms {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms").field("key_id", &self.key_id).finish()
    }
}

impl Kms {
    /// A client for `key_id` (key id, ARN or `alias/…`); `endpoint` points at an emulator.
    /// Nothing is called yet: the SDK connects on first use.
    pub async fn connect(key_id: &str, endpoint: Option<&str>) -> Self {
        // A cold start waiting on KMS holds a token request; fail fast and answer 503.
        let conf = crate::aws::sdk_config(
            endpoint,
            crate::aws::deadlines(Duration::from_secs(1), Duration::from_secs(3)),
        )
        .await;
        Kms {
            client: aws_sdk_kms::Client::new(&conf),
            key_id: key_id.to_owned(),
        }
    }

    /// The SDK client, for set-up against an emulator (creating a key, say).
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    /// `plaintext` encrypted under the wrapping key, bound to `purpose` and `kid`.
    pub async fn wrap(&self, plaintext: &[u8], purpose: Purpose, kid: &str) -> Result<Vec<u8>, KmsError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context("purpose", purpose.as_str())
            .encryption_context("kid", kid)
            .send()
            .await
            .map_err(|e| unavailable("Encrypt", e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| KmsError::Unavailable {
                operation: "Encrypt",
                cause: "no ciphertext in the answer".into(),
            })
    }

    /// The plaintext of a [`Self::wrap`] ciphertext, only under the same key, purpose and `kid`.
    pub async fn unwrap(&self, ciphertext: &[u8], purpose: Purpose, kid: &str) -> Result<Vec<u8>, KmsError> {
        let out = self
            .client
            .decrypt()
            // Naming the key: a ciphertext under any other key is refused, not decrypted.
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_context("purpose", purpose.as_str())
            .encryption_context("kid", kid)
            .send()
            .await
            .map_err(|e| unavailable("Decrypt", e))?;
        out.plaintext
            .map(Blob::into_inner)
            .ok_or_else(|| KmsError::Unavailable {
                operation: "Decrypt",
                cause: "no plaintext in the answer".into(),
            })
    }
}

fn unavailable<E: std::error::Error + 'static>(operation: &'static str, e: E) -> KmsError {
    // The SDK's Display is terse ("dispatch failure"); its source chain says why.
    let mut cause = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        cause.push_str(": ");
        cause.push_str(&s.to_string());
        source = s.source();
    }
    KmsError::Unavailable { operation, cause }
}
