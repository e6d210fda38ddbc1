//! SSM Run Command adapter: `CommandRunner` over `aws_sdk_ssm::Client` (AWS-RunShellScript).

use crate::error::{AwsError, ErrorKind, Result};
use crate::ports::{CommandInvocation, CommandRequest, CommandRunner, CommandStatus};
use tracing::instrument;

/// SSM's limit for a command comment.
const COMMENT_MAX: usize = 100;

/// GetCommandInvocation's `StandardOutputContent` holds the first 24,000 characters of stdout.
pub const CONSOLE_STDOUT_LIMIT: usize = 24_000;
/// GetCommandInvocation's `StandardErrorContent` holds the first 8,000 characters of stderr.
pub const CONSOLE_STDERR_LIMIT: usize = 8_000;

/// Which output stream of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The name of the agent's output object.
    pub fn object_name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    /// How many characters of it GetCommandInvocation keeps.
    pub fn console_limit(self) -> usize {
        match self {
            Self::Stdout => CONSOLE_STDOUT_LIMIT,
            Self::Stderr => CONSOLE_STDERR_LIMIT,
        }
    }

    /// Whether the console copy `console` may be cut: shorter than the limit, it is the whole
    /// stream (and an empty one means the agent uploaded no object at all, as it uploads only
    /// non-empty streams); at the limit, the whole text is only in the S3 object.
    pub fn console_may_be_cut(self, console: &str) -> bool {
        console.chars().count() >= self.console_limit()
    }
}

#[derive(Clone, Debug)]
pub struct RunCommand {
    client: aws_sdk_ssm::Client,
}

impl RunCommand {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        Self { client }
    }
}

impl CommandRunner for RunCommand {
    // The commands are not logged: they are long, and a command-config path is all they could leak.
    #[instrument(skip(self, req), fields(instance = req.instance_id, comment = req.comment))]
    async fn send_command(&self, req: &CommandRequest<'_>) -> Result<String> {
        let mut call = self
            .client
            .send_command()
            .document_name("AWS-RunShellScript")
            .instance_ids(req.instance_id)
            .comment(req.comment.chars().take(COMMENT_MAX).collect::<String>())
            .parameters("commands", req.commands.to_vec())
            .parameters("executionTimeout", vec![req.execution_timeout_seconds.to_string()]);
        if let Some(bucket) = req.output_bucket {
            call = call.output_s3_bucket_name(bucket);
        }
        if let Some(prefix) = req.output_prefix {
            call = call.output_s3_key_prefix(prefix);
        }
        let out = call.send().await.map_err(|e| AwsError::from_sdk("SendCommand", e))?;
        out.command()
            .and_then(|c| c.command_id())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::new("SendCommand", ErrorKind::Other, "response carries no CommandId"))
    }

    #[instrument(skip(self))]
    async fn command_invocation(&self, command_id: &str, instance_id: &str) -> Result<Option<CommandInvocation>> {
        let out =
            match self.client.get_command_invocation().command_id(command_id).instance_id(instance_id).send().await {
                Ok(out) => out,
                Err(e) => {
                    let e = AwsError::from_sdk("GetCommandInvocation", e);
                    // Right after SendCommand the invocation may not be visible yet.
                    if e.kind == ErrorKind::NotFound || e.code.as_deref() == Some("InvocationDoesNotExist") {
                        return Ok(None);
                    }
                    return Err(e);
                }
            };
        Ok(Some(CommandInvocation {
            status: CommandStatus::parse(out.status().map(|s| s.as_str()).unwrap_or("Pending")),
            response_code: out.response_code(),
            stdout: out.standard_output_content().unwrap_or_default().to_owned(),
            stderr: out.standard_error_content().unwrap_or_default().to_owned(),
        }))
    }
}

/// Where the SSM agent writes a command's full output when given OutputS3BucketName (documented
/// layout: `<prefix>/<command id>/<instance id>/awsrunShellScript/0.awsrunShellScript/stdout`).
pub fn output_key(prefix: Option<&str>, command_id: &str, instance_id: &str, stream: &str) -> String {
    let base = format!("{command_id}/{instance_id}/awsrunShellScript/0.awsrunShellScript/{stream}");
    match prefix.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/{base}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_copies_below_their_limit_are_whole() {
        assert!(!Stream::Stderr.console_may_be_cut(""));
        assert!(!Stream::Stderr.console_may_be_cut(&"é".repeat(7_999)), "characters, not bytes");
        assert!(Stream::Stderr.console_may_be_cut(&"x".repeat(8_000)));
        assert!(!Stream::Stdout.console_may_be_cut(&"x".repeat(23_999)));
        assert!(Stream::Stdout.console_may_be_cut(&"x".repeat(24_000)));
    }

    #[test]
    fn output_keys_follow_the_agent_layout() {
        assert_eq!(
            output_key(Some("autoheal/run-1/ssm/"), "c-1", "i-0123456789abcdef0", "stdout"),
            "autoheal/run-1/ssm/c-1/i-0123456789abcdef0/awsrunShellScript/0.awsrunShellScript/stdout"
        );
        assert_eq!(output_key(None, "c", "i", "stderr"), "c/i/awsrunShellScript/0.awsrunShellScript/stderr");
    }
}
