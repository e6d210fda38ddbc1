//! SNS adapter: `Notifier` publishing to one topic.

use crate::error::{AwsError, Result};
use crate::ports::Notifier;
use tracing::instrument;

/// SNS subjects are limited to 100 printable ASCII characters.
const SUBJECT_MAX: usize = 100;

#[derive(Clone, Debug)]
pub struct Topic {
    client: aws_sdk_sns::Client,
    arn: String,
}

impl Topic {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self { client, arn: topic_arn.into() }
    }
}

impl Notifier for Topic {
    #[instrument(skip(self, message), fields(topic = %self.arn))]
    async fn publish(&self, subject: &str, message: &str) -> Result<String> {
        let out = self
            .client
            .publish()
            .topic_arn(&self.arn)
            .subject(sns_subject(subject))
            .message(message)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

/// SNS rejects subjects with line breaks, non-ASCII or more than 100 characters.
pub fn sns_subject(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' }).collect();
    clean.chars().take(SUBJECT_MAX).collect()
}
