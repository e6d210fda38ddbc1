//! Validated values that may reach a shell on the Kafka client instance. Each type checks its input
//! against a strict pattern when it is built; only these types can become a [`ShellWord`], so an
//! unchecked string has no way into an SSM script.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why a value was refused. One line, bounded, never echoing control characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("invalid bootstrap servers {0:?}: expected host:port[,host:port...] (hostnames or IPv4, ports 1-65535)")]
    BootstrapServers(String),
    #[error("invalid {what} {value:?}: expected an absolute path of letters, digits, '.', '_', '-' and '/' (no '..')")]
    Path { what: &'static str, value: String },
    #[error("invalid topic name {0:?}: Kafka topics are 1-249 characters of letters, digits, '.', '_' and '-'")]
    Topic(String),
    #[error("invalid throttle {0:?}: expected bytes per second between {MIN_THROTTLE} and {MAX_THROTTLE}")]
    Throttle(String),
    #[error("invalid S3 bucket name {0:?}: expected 3-63 characters of lowercase letters, digits, '.' and '-'")]
    Bucket(String),
    #[error("invalid S3 key {0:?}: expected 1-1024 characters of letters, digits, '.', '_', '-', '=' and '/'")]
    Key(String),
    #[error("invalid instance id {0:?}: expected i-<8 or 17 hex digits> or mi-<17 hex digits>")]
    InstanceId(String),
    #[error("invalid broker id {0:?}: expected an integer between 0 and 2147483647")]
    BrokerId(String),
}

/// A word that is safe to paste into a POSIX shell script: built only from validated values, and
/// always emitted single-quoted. Validated values never contain a quote; the escaping below is a
/// second line of defence, not the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellWord(String);

impl ShellWord {
    /// Single-quotes `raw` for a POSIX shell. Private: only validated types call it.
    fn quote(raw: &str) -> Self {
        Self(format!("'{}'", raw.replace('\'', r"'\''")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShellWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keeps error messages one line and bounded, whatever the input was.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Implements `FromStr`, `Display`, serde (through the validating constructor) and `shell_word` for
/// a validated string newtype.
macro_rules! validated_string {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value quoted for a shell script.
            pub fn shell_word(&self) -> ShellWord {
                ShellWord::quote(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// `host:port[,host:port...]` as MSK's GetBootstrapBrokers returns it. Hostnames (RFC 1123 labels)
/// or IPv4 addresses; no IPv6, no spaces, at most 64 servers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BootstrapServers(String);

impl BootstrapServers {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let err = || ValueError::BootstrapServers(shown(s));
        let servers: Vec<&str> = s.split(',').collect();
        if s.is_empty() || s.len() > 8192 || servers.len() > 64 {
            return Err(err());
        }
        for server in servers {
            let (host, port) = server.rsplit_once(':').ok_or_else(err)?;
            if !is_hostname(host) || !is_port(port) {
                return Err(err());
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The individual `host:port` entries.
    pub fn servers(&self) -> impl Iterator<Item = &str> {
        self.0.split(',')
    }
}
validated_string!(BootstrapServers);

fn is_hostname(h: &str) -> bool {
    (1..=253).contains(&h.len())
        && h.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_port(p: &str) -> bool {
    (1..=5).contains(&p.len())
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
}

/// Checks an absolute path: `/` then components of `[A-Za-z0-9._-]`, none `.` or `..`, none empty
/// (so no `//`), no trailing slash, at most 1024 bytes. Strict on purpose: paths on the Kafka client
/// are chosen by the operator at deploy time and never need more.
fn is_safe_absolute_path(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    p.len() <= 1024
        && !rest.is_empty()
        && rest.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The Kafka CLI's `bin` directory on the client instance, e.g. `/opt/kafka/bin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KafkaBinDir(String);

impl KafkaBinDir {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if is_safe_absolute_path(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValueError::Path { what: "Kafka bin directory", value: shown(s) })
        }
    }

    /// A tool in this directory, e.g. `kafka-topics.sh`, quoted for the shell. The tool names are
    /// constants of this crate, never input.
    pub(crate) fn tool(&self, tool: &'static str) -> ShellWord {
        debug_assert!(tool.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')));
        ShellWord::quote(&format!("{}/{tool}", self.0))
    }
}
validated_string!(KafkaBinDir);

impl Default for KafkaBinDir {
    fn default() -> Self {
        Self("/opt/kafka/bin".to_owned())
    }
}

/// A client properties file on the instance passed as `--command-config` (TLS, SASL/SCRAM, or IAM
/// through the aws-msk-iam-auth jar). Its content never passes through us.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandConfigPath(String);

impl CommandConfigPath {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if is_safe_absolute_path(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValueError::Path { what: "command-config path", value: shown(s) })
        }
    }
}
validated_string!(CommandConfigPath);

/// A Kafka topic name: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..` (Kafka's own rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(String);

impl TopicName {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let ok = (1..=249).contains(&s.len())
            && s != "."
            && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok { Ok(Self(s.to_owned())) } else { Err(ValueError::Topic(shown(s))) }
    }
}
validated_string!(TopicName);

/// Lowest throttle accepted: below 1 KiB/s a reassignment would practically never finish.
pub const MIN_THROTTLE: u64 = 1024;
/// Highest throttle accepted (100 GiB/s): above any broker's network, so effectively "unthrottled",
/// which remediation must never be.
pub const MAX_THROTTLE: u64 = 100 * 1024 * 1024 * 1024;

/// Replication throttle for `--throttle`, in bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Throttle(u64);

impl Throttle {
    pub fn new(bytes_per_sec: u64) -> Result<Self, ValueError> {
        if (MIN_THROTTLE..=MAX_THROTTLE).contains(&bytes_per_sec) {
            Ok(Self(bytes_per_sec))
        } else {
            Err(ValueError::Throttle(bytes_per_sec.to_string()))
        }
    }

    /// Digits only: no sign, no suffix, no spaces.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::Throttle(shown(s)));
        }
        let n = s.parse::<u64>().map_err(|_| ValueError::Throttle(shown(s)))?;
        Self::new(n)
    }

    pub fn bytes_per_sec(self) -> u64 {
        self.0
    }

    /// A number is shell-safe as it is; quoting keeps every script argument uniform.
    pub fn shell_word(self) -> ShellWord {
        ShellWord::quote(&self.0.to_string())
    }
}

impl Default for Throttle {
    /// 50 MiB/s: a conservative default that leaves most of a small broker's network to clients.
    fn default() -> Self {
        Self(50 * 1024 * 1024)
    }
}

impl FromStr for Throttle {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Throttle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

/// A Kafka broker id (non-negative `int32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BrokerId(u32);

impl BrokerId {
    pub fn new(id: u32) -> Result<Self, ValueError> {
        if id <= i32::MAX as u32 { Ok(Self(id)) } else { Err(ValueError::BrokerId(id.to_string())) }
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::BrokerId(shown(s)));
        }
        Self::new(s.parse().map_err(|_| ValueError::BrokerId(shown(s)))?)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn shell_word(self) -> ShellWord {
        ShellWord::quote(&self.0.to_string())
    }
}

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An S3 bucket name (the DNS-compatible rules; no IP-address-shaped names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Bucket(String);

impl S3Bucket {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let ok = (3..=63).contains(&s.len())
            && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && !s.contains("..")
            && !s.split('.').all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
        if ok { Ok(Self(s.to_owned())) } else { Err(ValueError::Bucket(shown(s))) }
    }
}
validated_string!(S3Bucket);

/// An S3 object key made of characters that need no escaping anywhere: `[A-Za-z0-9._=/-]`, no
/// leading or doubled `/`, no `.`/`..` segment. Keys are built by us (prefix + execution name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Key(String);

impl S3Key {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let ok = (1..=1024).contains(&s.len())
            && s.split('/').all(|c| {
                !c.is_empty()
                    && c != "."
                    && c != ".."
                    && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
            });
        if ok { Ok(Self(s.to_owned())) } else { Err(ValueError::Key(shown(s))) }
    }

    /// `self/child`, validated again.
    pub fn join(&self, child: &str) -> Result<Self, ValueError> {
        Self::parse(&format!("{}/{child}", self.0))
    }
}
validated_string!(S3Key);

/// Where an object lives in S3.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct S3Location {
    pub bucket: S3Bucket,
    pub key: S3Key,
}

impl S3Location {
    /// `s3://bucket/key`, quoted for the shell.
    pub fn shell_word(&self) -> ShellWord {
        ShellWord::quote(&self.to_string())
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The EC2 (or SSM-managed) instance that has the Kafka CLI: `i-` + 8 or 17 hex digits, or `mi-` +
/// 17 hex digits for hybrid managed nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let hex = |h: &str| h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let ok = match (s.strip_prefix("i-"), s.strip_prefix("mi-")) {
            (Some(h), _) => (h.len() == 8 || h.len() == 17) && hex(h),
            (_, Some(h)) => h.len() == 17 && hex(h),
            _ => false,
        };
        if ok { Ok(Self(s.to_owned())) } else { Err(ValueError::InstanceId(shown(s))) }
    }
}
validated_string!(InstanceId);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::process::Command;

    #[test]
    fn bootstrap_servers() {
        for good in [
            "localhost:9092",
            "127.0.0.1:9092,127.0.0.1:9093",
            "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098,b-2.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098",
        ] {
            let b = BootstrapServers::parse(good).unwrap();
            assert_eq!(b.as_str(), good);
        }
        for bad in [
            "",
            "localhost",
            "localhost:",
            "localhost:0",
            "localhost:65536",
            "localhost:+1",
            "localhost:9092,",
            ",localhost:9092",
            "local host:9092",
            "-x:9092",
            "a..b:9092",
            "[::1]:9092",
            "h:9092;id",
            "h:9092 --command-config /etc/x",
            "$(id):9092",
            "h:9092\nreboot",
        ] {
            assert!(BootstrapServers::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(BootstrapServers::parse("a:1,b:2").unwrap().servers().collect::<Vec<_>>(), ["a:1", "b:2"]);
    }

    #[test]
    fn paths() {
        assert!(KafkaBinDir::parse("/opt/kafka/bin").is_ok());
        assert!(KafkaBinDir::parse("/home/ec2-user/kafka_2.13-3.6.0/bin").is_ok());
        assert!(CommandConfigPath::parse("/home/ec2-user/client.properties").is_ok());
        for bad in [
            "",
            "/",
            "opt/kafka/bin",
            "/opt/../etc",
            "/opt/./kafka",
            "/opt//kafka",
            "/opt/kafka/",
            "/opt/kafka bin",
            "/opt/$HOME",
            "/opt/`id`",
            "/opt/k'a",
            "/opt/k\"a",
            "/opt/ka\\fka",
            "/opt/kafka;reboot",
        ] {
            assert!(KafkaBinDir::parse(bad).is_err(), "{bad:?} accepted");
            assert!(CommandConfigPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(KafkaBinDir::default().tool("kafka-topics.sh").as_str(), "'/opt/kafka/bin/kafka-topics.sh'");
    }

    #[test]
    fn topics() {
        for good in ["stress-test", "__consumer_offsets", "a.b_c-D9", &"t".repeat(249)] {
            assert!(TopicName::parse(good).is_ok(), "{good:?} refused");
        }
        for bad in ["", ".", "..", "a b", "a/b", "a'b", "a;b", "ü", &"t".repeat(250)] {
            assert!(TopicName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn throttles() {
        assert_eq!(Throttle::parse("10485760").unwrap().bytes_per_sec(), 10_485_760);
        for bad in ["", "0", "1023", "-1", "+5000", "5 000", "10MB", "1e9", "99999999999999999999999"] {
            assert!(Throttle::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Throttle::new(MAX_THROTTLE + 1).is_err());
        assert!(serde_json::from_str::<Throttle>("10").is_err());
        assert_eq!(serde_json::from_str::<Throttle>("2048").unwrap().bytes_per_sec(), 2048);
    }

    #[test]
    fn s3_names() {
        assert!(S3Bucket::parse("autoheal-artifacts-123456789012").is_ok());
        for bad in ["ab", "Upper", "-a-b", "a-b-", "a..b", "192.168.1.1", "a_b", &"a".repeat(64)] {
            assert!(S3Bucket::parse(bad).is_err(), "{bad:?} accepted");
        }
        let key = S3Key::parse("autoheal/abcd1234-demo-20261125T180000Z").unwrap();
        assert_eq!(key.join("plan.json").unwrap().as_str(), "autoheal/abcd1234-demo-20261125T180000Z/plan.json");
        for bad in ["", "/a", "a/", "a//b", "a/../b", "a b", "a'b", "a$b", "a*b"] {
            assert!(S3Key::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn instance_ids() {
        assert!(InstanceId::parse("i-0123456789abcdef0").is_ok());
        assert!(InstanceId::parse("i-01234567").is_ok());
        assert!(InstanceId::parse("mi-0123456789abcdef0").is_ok());
        for bad in ["", "i-", "i-0123", "i-0123456789ABCDEF0", "mi-01234567", "x-01234567", "i-01234567;id"] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn errors_are_one_line_and_bounded() {
        let e = TopicName::parse(&format!("a\nb{}", "x".repeat(500))).unwrap_err().to_string();
        assert!(!e.contains('\n'));
        assert!(e.len() < 250, "{e}");
    }

    #[test]
    fn quoting_escapes_quotes_even_though_validation_keeps_them_out() {
        assert_eq!(ShellWord::quote("it's").as_str(), r"'it'\''s'");
    }

    /// Characters that mean nothing to a shell inside single quotes (and outside them, except `:`,
    /// which is harmless too).
    fn shell_inert(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b',' | b'='))
    }

    /// What `sh` makes of a word: the word must come back as exactly the validated value.
    fn through_sh(word: &ShellWord) -> String {
        let out = Command::new("sh").arg("-c").arg(format!("printf '%s' {word}")).output().expect("sh runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8")
    }

    // Any string: either refused, or accepted as a value made only of inert characters that the
    // shell hands back unchanged.
    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_are_refused_or_shell_safe(s in any::<String>(), t in "[ -~]{0,40}") {
            for input in [s.as_str(), t.as_str()] {
                let words: Vec<(String, ShellWord)> = [
                    BootstrapServers::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    KafkaBinDir::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    CommandConfigPath::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    TopicName::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    Throttle::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    BrokerId::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    S3Bucket::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    S3Key::parse(input).map(|v| (v.to_string(), v.shell_word())),
                    InstanceId::parse(input).map(|v| (v.to_string(), v.shell_word())),
                ]
                .into_iter()
                .filter_map(Result::ok)
                .collect();
                for (value, word) in words {
                    prop_assert!(shell_inert(&value), "accepted {:?}", value);
                    prop_assert_eq!(word.as_str(), format!("'{value}'"));
                }
            }
        }

        // The quoting itself, for any string a shell can hold (no NUL): the shell gives it back.
        #[test]
        fn quoting_round_trips_through_a_real_shell(s in "[^\\x00]{0,24}") {
            prop_assert_eq!(through_sh(&ShellWord::quote(&s)), s);
        }

        // Strings made of the characters the validators like best, plus every shell metacharacter:
        // whatever is accepted must survive a real `sh` unchanged.
        #[test]
        fn accepted_values_survive_a_real_shell(s in "[a-z0-9./:,_=' $`\\\\;|&<>*?~-]{1,24}") {
            let accepted: Vec<(String, ShellWord)> = [
                BootstrapServers::parse(&s).map(|v| (v.to_string(), v.shell_word())),
                KafkaBinDir::parse(&s).map(|v| (v.to_string(), v.shell_word())),
                TopicName::parse(&s).map(|v| (v.to_string(), v.shell_word())),
                S3Key::parse(&s).map(|v| (v.to_string(), v.shell_word())),
            ]
            .into_iter()
            .filter_map(Result::ok)
            .collect();
            for (value, word) in accepted {
                prop_assert!(shell_inert(&value));
                prop_assert_eq!(through_sh(&word), value);
            }
        }
    }
}
