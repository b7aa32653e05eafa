//! Outgoing email: verification codes, password-reset links, and the notices that keep sign-up and
//! reset from revealing which addresses have accounts.
//!
//! Two [`Mailer`]s:
//! - [`Ses`]: Amazon SES (`aws-sdk-sesv2` `SendEmail`) from the configured sender, in AWS;
//! - [`Outbox`]: a folder (`.data/outbox` by default) where each message is written as a small
//!   `.eml` text file, and whose subject and first lines the dev server also prints to its
//!   console, so a newcomer can verify an account without any mail server. It is refused in
//!   Lambda (see `config`).
//!
//! Messages are plain text: nothing to render, nothing to load, and nothing a mail client could
//! run. Their bodies hold one-time codes and links, so they are never logged; only the fact of a
//! send and a short tag of the address are.
//!
//! Not for: deciding when to send (see `accounts::verification` and `accounts::reset`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

/// One plain-text message to one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail service could not be reached or refused the message; answered as 503.
    #[error("mail could not be sent: {0}")]
    Unavailable(String),
}

/// Where messages go.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// A cheaply cloned handle on the configured mailer.
pub type SharedMailer = Arc<dyn Mailer>;

/// Writes each message to a file in a folder, and prints where, for local development.
pub struct Outbox {
    dir: PathBuf,
    /// Prints each message's subject and body to stdout (the dev server's console).
    echo: bool,
    seq: AtomicU64,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>, echo: bool) -> Self {
        Outbox {
            dir: dir.into(),
            echo,
            seq: AtomicU64::new(0),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// A file-name-safe form of an address: letters, digits, `.`, `-`, `_`; the rest become `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, m: &Message) -> Result<(), MailError> {
        let unavailable = |e: std::io::Error| MailError::Unavailable(format!("outbox {}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(unavailable)?;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        // Time first, then a per-process sequence: `ls` lists the newest last.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!("{millis:015}-{seq:04}-{}.eml", file_safe(&m.to));
        let path = self.dir.join(name);
        let text = format!(
            "To: {}\nSubject: {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
            m.to, m.subject, m.text
        );
        tokio::fs::write(&path, text).await.map_err(unavailable)?;
        if self.echo {
            // The console of a local server is the developer's own: showing the code there is the
            // point of the outbox (it is refused in Lambda).
            println!("\n  mail to {} — {}\n  saved to {}", m.to, m.subject, path.display());
            for line in m.text.lines().filter(|l| !l.trim().is_empty()).take(4) {
                println!("  | {line}");
            }
            println!();
        }
        Ok(())
    }
}

/// No mail at all: for functions that never send any. A send is an error.
pub struct Disabled;

#[async_trait]
impl Mailer for Disabled {
    async fn send(&self, _: &Message) -> Result<(), MailError> {
        Err(MailError::Unavailable("this function sends no mail (MAIL=none)".into()))
    }
}

/// Amazon SES (v2 API): `SendEmail` with simple content, from the configured sender identity.
/// Behind the `ses` feature: only the functions that mail (authorize) and the dev server link it.
#[cfg(feature = "ses")]
pub struct Ses {
    client: aws_sdk_sesv2::Client,
    from: String,
}

#[cfg(feature = "ses")]
impl Ses {
    /// An SES client on this workspace's one TLS stack; `endpoint` points it at an emulator.
    pub async fn connect(from: &str, endpoint: Option<&str>) -> Self {
        // A send that hangs would hold a sign-up past its page; fail fast and answer 503.
        let conf = crate::aws::sdk_config(
            endpoint,
            crate::aws::deadlines(std::time::Duration::from_secs(2), std::time::Duration::from_secs(5)),
        )
        .await;
        Ses {
            client: aws_sdk_sesv2::Client::new(&conf),
            from: from.to_owned(),
        }
    }

    /// The SDK client, for set-up against an emulator (creating an identity, say).
    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        &self.client
    }
}

#[cfg(feature = "ses")]
#[async_trait]
impl Mailer for Ses {
    async fn send(&self, m: &Message) -> Result<(), MailError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
        let content = |s: &str| {
            Content::builder()
                .data(s)
                .charset("UTF-8")
                .build()
                .map_err(|e| MailError::Unavailable(e.to_string()))
        };
        let message = SesMessage::builder()
            .subject(content(&m.subject)?)
            .body(Body::builder().text(content(&m.text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| MailError::Unavailable(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_writes_one_file_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path(), false);
        let m = Message {
            to: "a+b@example.com".into(),
            subject: "Hello".into(),
            text: "line one\nline two".into(),
        };
        outbox.send(&m).await.unwrap();
        outbox.send(&m).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 2);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(text.starts_with("To: a+b@example.com\nSubject: Hello\n"), "{text}");
        assert!(text.contains("line two"));
    }
}
