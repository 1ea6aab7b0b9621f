//! Delivery of outbox emails: SMTP through lettre, or `.eml` files in the data folder when no
//! SMTP server is configured (RUN-2), so that nothing is lost on a laptop.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sdelka_persistence::outbox::OutgoingEmail;
use uuid::Uuid;

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Folder {
        dir: PathBuf,
        from: Mailbox,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message itself is broken (bad address): retrying will not help.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// SMTP down, disk full…: retry later.
    #[error("delivery failed: {0}")]
    Transient(String),
}

impl Mailer {
    pub fn new(
        smtp_url: Option<&str>,
        from: &str,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Mailer> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("SDELKA_MAIL_FROM `{from}` is not a mailbox: {e}"))?;
        Ok(match smtp_url {
            Some(url) => Mailer::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("SDELKA_SMTP_URL is invalid: {e}"))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build(),
                from,
            },
            None => Mailer::Folder {
                dir: data_dir.join("mail"),
                from,
            },
        })
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::Folder { from, .. } => from,
        }
    }

    /// Builds the message with a Message-ID derived from the outbox id, so that a message
    /// delivered twice (at-least-once) is recognisable as the same message.
    pub fn build(&self, outbox_id: Uuid, email: &OutgoingEmail) -> Result<Message, MailError> {
        let mut builder = Message::builder()
            .from(self.from().clone())
            .subject(email.subject.clone())
            .message_id(Some(format!("<{outbox_id}@sdelka>")));
        for to in &email.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| MailError::Permanent(format!("recipient `{to}`: {e}")))?;
            builder = builder.to(mailbox);
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(email.text_body.clone())
            .map_err(|e| MailError::Permanent(e.to_string()))
    }

    pub async fn deliver(&self, outbox_id: Uuid, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = self.build(outbox_id, email)?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.map(|_| ()).map_err(|e| {
                    if e.is_permanent() {
                        MailError::Permanent(e.to_string())
                    } else {
                        MailError::Transient(e.to_string())
                    }
                })
            }
            Mailer::Folder { dir, .. } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Transient(e.to_string()))?;
                // Written under a temporary name and renamed: a reader never sees half a file.
                let tmp = dir.join(format!(".{outbox_id}.eml.tmp"));
                tokio::fs::write(&tmp, message.formatted())
                    .await
                    .map_err(|e| MailError::Transient(e.to_string()))?;
                tokio::fs::rename(&tmp, dir.join(format!("{outbox_id}.eml")))
                    .await
                    .map_err(|e| MailError::Transient(e.to_string()))
            }
        }
    }
}
