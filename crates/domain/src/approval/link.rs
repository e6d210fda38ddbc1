//! Approve/reject links. A link carries the Step Functions task token, the action, what is being
//! decided (cluster, broker counts, execution) and an expiry, all covered by one HMAC-SHA256 with a
//! key only the stack knows. Anyone can read a link; nobody can change a field of it, extend it, or
//! make one for another token, so the endpoint checks it before it calls Step Functions at all.
//!
//! Signed message (fields are validated and newline-free; the token is length-prefixed and last):
//! `msk-autoheal/approval-link/v1\naction=…\ncluster=…\nfrom=…\nto=…\nexecution=…\nexpires=…\ntoken=<len>:<token>`.
//! The signature travels base64url without padding; it is checked in constant time.

use crate::cluster::ClusterName;
use crate::fixes::BrokerChange;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key: 256 bits, the HMAC-SHA256 output size (the stack generates 64 characters).
pub const MIN_KEY_BYTES: usize = 32;
/// Longest validity of a link, and of an approval window: one day. An approval asked for longer ago
/// decides on a cluster and a plan that may have changed since, and the workflow (48 h in all) must
/// still have time to scale and move partitions after it.
pub const MAX_VALIDITY_SECONDS: i64 = 24 * 60 * 60;
/// Step Functions' limit on a task token's length.
const MAX_TOKEN_BYTES: usize = 2048;
/// An operator's note is kept to this many characters.
pub const MAX_NOTE_CHARS: usize = 500;

const DOMAIN_TAG: &str = "msk-autoheal/approval-link/v1";
/// Query values keep only RFC 3986 unreserved characters; everything else is percent-encoded (a `+`
/// in a task token must not come back as a space).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Why a key was refused at cold start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("the approval signing key is {len} bytes long; at least {MIN_KEY_BYTES} are required")]
    TooShort { len: usize },
}

/// Why a link was refused. `Malformed` is a 400, `Forged` and `Expired` are 403s; none of them
/// reaches Step Functions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error("the link is incomplete or damaged: {0}")]
    Malformed(String),
    #[error("the link's signature does not match its content")]
    Forged,
    #[error("the link expired at {0}")]
    Expired(Timestamp),
}

fn malformed(what: impl Into<String>) -> LinkError {
    LinkError::Malformed(what.into())
}

/// The HMAC key. Never printed.
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl SigningKey {
    /// The key from the secret's text; surrounding whitespace (a file's trailing newline) is ignored.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let key = secret.trim().as_bytes();
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { len: key.len() });
        }
        // HMAC takes keys of any length; the error branch is unreachable but kept typed.
        HmacSha256::new_from_slice(key).map(Self).map_err(|_| KeyError::TooShort { len: key.len() })
    }

    fn mac(&self) -> HmacSha256 {
        self.0.clone()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A Step Functions task token: whoever holds it can resume or fail the execution, so it is never
/// printed (its `Debug` shows only its length) and never serialised by accident (no `Serialize`).
#[derive(Clone, PartialEq, Eq)]
pub struct TaskToken(String);

impl TaskToken {
    pub fn new(token: impl Into<String>) -> Result<Self, LinkError> {
        let token = token.into();
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(malformed(format!("a task token is 1 to {MAX_TOKEN_BYTES} bytes, this one {}", token.len())));
        }
        if token.chars().any(char::is_control) {
            return Err(malformed("the task token contains control characters"));
        }
        Ok(Self(token))
    }

    /// The token itself, for the one call that needs it (SendTaskSuccess / SendTaskFailure).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken(<redacted, {} bytes>)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for TaskToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Approve,
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Approve => Self::Reject,
            Self::Reject => Self::Approve,
        }
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "approve" => Ok(Self::Approve),
            "reject" => Ok(Self::Reject),
            other => Err(format!("invalid action {:?}: expected approve or reject", shown(other))),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Step Functions execution name: 1-80 letters, digits, `-`, `_` and `.` (the detector's names
/// are a subset; Step Functions allows more, but nothing else needs to reach a link or a page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExecutionName(String);

impl ExecutionName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (1..=80).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("invalid execution name {:?}: expected 1-80 letters, digits, '-', '_' or '.'", shown(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ExecutionName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ExecutionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an approval decides: which execution may add which brokers to which cluster. Signed into
/// the link so the decision page can say exactly what a click will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSubject {
    pub cluster: ClusterName,
    pub brokers: BrokerChange,
    pub execution: ExecutionName,
}

/// The base of every link: the approval endpoint (a function URL or an API's route). HTTPS, except
/// on the loopback interface for the local stack; no query or fragment of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = |why: &str| Err(format!("invalid approval URL {:?}: {why}", shown(s)));
        let rest = if let Some(rest) = s.strip_prefix("https://") {
            rest
        } else if let Some(rest) = s.strip_prefix("http://") {
            let host = rest.split(['/', ':']).next().unwrap_or_default();
            if !matches!(host, "127.0.0.1" | "localhost") {
                return bad("links must use https:// (plain http only on 127.0.0.1 or localhost)");
            }
            rest
        } else {
            return bad("expected an https:// URL");
        };
        if rest.is_empty() || rest.starts_with('/') {
            return bad("no host");
        }
        if s.len() > 2000 {
            return bad("longer than 2000 characters");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control() || "?#\"'<>\\`{}|^".contains(c)) {
            return bad("it may not contain a query, a fragment, spaces, quotes or angle brackets");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One approve or reject link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub action: Action,
    pub subject: LinkSubject,
    /// Whole seconds: the link carries Unix seconds.
    pub expires_at: Timestamp,
    pub token: TaskToken,
}

impl Link {
    /// A link valid until `expires_at` (cut to the second).
    pub fn new(action: Action, subject: LinkSubject, token: TaskToken, expires_at: Timestamp) -> Self {
        let secs = expires_at.unix_millis().div_euclid(1000);
        let expires_at = Timestamp::from_unix_millis(secs * 1000).unwrap_or(expires_at);
        Self { action, subject, expires_at, token }
    }

    /// The same decision's other button (the page offers both).
    pub fn with_action(&self, action: Action) -> Self {
        Self { action, ..self.clone() }
    }

    fn expires_unix(&self) -> i64 {
        self.expires_at.unix_millis().div_euclid(1000)
    }

    fn signature(&self, key: &SigningKey) -> Vec<u8> {
        let mut mac = key.mac();
        mac.update(self.signed_prefix().as_bytes());
        mac.update(self.token.0.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn signed_prefix(&self) -> String {
        format!(
            "{DOMAIN_TAG}\naction={}\ncluster={}\nfrom={}\nto={}\nexecution={}\nexpires={}\ntoken={}:",
            self.action,
            self.subject.cluster,
            self.subject.brokers.from(),
            self.subject.brokers.to(),
            self.subject.execution,
            self.expires_unix(),
            self.token.0.len(),
        )
    }

    /// The link's fields with their signature, in link order (also the decision page's hidden fields).
    pub fn fields(&self, key: &SigningKey) -> Vec<(&'static str, String)> {
        vec![
            ("action", self.action.to_string()),
            ("cluster", self.subject.cluster.to_string()),
            ("from", self.subject.brokers.from().to_string()),
            ("to", self.subject.brokers.to().to_string()),
            ("execution", self.subject.execution.to_string()),
            ("expires", self.expires_unix().to_string()),
            ("token", self.token.0.clone()),
            ("sig", URL_SAFE_NO_PAD.encode(self.signature(key))),
        ]
    }

    /// `base?action=…&…&sig=…`, every value percent-encoded.
    pub fn url(&self, base: &BaseUrl, key: &SigningKey) -> String {
        let query: Vec<String> = self
            .fields(key)
            .into_iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(&v, QUERY_VALUE)))
            .collect();
        format!("{base}?{}", query.join("&"))
    }

    /// Checks decoded query or form parameters: well-formed, signed with `key`, not expired at
    /// `now` — in that order, so a forged link learns nothing about its expiry. Unknown parameters
    /// (a tracker's `utm_*`, the page's `note`) are ignored; a known one given twice is refused.
    pub fn verify<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        key: &SigningKey,
        now: Timestamp,
    ) -> Result<Self, LinkError> {
        let (link, sig) = Self::parse(params)?;
        let mut mac = key.mac();
        mac.update(link.signed_prefix().as_bytes());
        mac.update(link.token.0.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&sig).map_err(|_| LinkError::Forged)?;
        if now >= link.expires_at {
            return Err(LinkError::Expired(link.expires_at));
        }
        Ok(link)
    }

    fn parse<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(Self, Vec<u8>), LinkError> {
        const KEYS: [&str; 8] = ["action", "cluster", "from", "to", "execution", "expires", "token", "sig"];
        let mut found: [Option<&str>; 8] = [None; 8];
        for (k, v) in params {
            if let Some(i) = KEYS.iter().position(|known| *known == k)
                && found[i].replace(v).is_some()
            {
                return Err(malformed(format!("{k} is given twice")));
            }
        }
        let get = |i: usize| found[i].ok_or_else(|| malformed(format!("{} is missing", KEYS[i])));
        let count = |i: usize| -> Result<u32, LinkError> {
            let v = get(i)?;
            if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed(format!("{} is not a broker count", KEYS[i])));
            }
            v.parse().map_err(|_| malformed(format!("{} is not a broker count", KEYS[i])))
        };
        let action: Action = get(0)?.parse().map_err(LinkError::Malformed)?;
        let cluster = ClusterName::parse(get(1)?).map_err(|e| malformed(e.to_string()))?;
        let brokers = BrokerChange::new(count(2)?, count(3)?).map_err(|e| malformed(e.to_string()))?;
        let execution = ExecutionName::parse(get(4)?).map_err(LinkError::Malformed)?;
        let expires = get(5)?;
        let expires_at = (!expires.is_empty() && expires.len() <= 12 && expires.bytes().all(|b| b.is_ascii_digit()))
            .then(|| expires.parse::<i64>().ok())
            .flatten()
            .and_then(|s| Timestamp::from_unix_millis(s * 1000))
            .ok_or_else(|| malformed("expires is not a Unix time"))?;
        let token = TaskToken::new(get(6)?)?;
        let sig = URL_SAFE_NO_PAD
            .decode(get(7)?)
            .ok()
            .filter(|s| s.len() == 32)
            .ok_or_else(|| malformed("sig is not a base64url HMAC-SHA256"))?;
        let link = Self { action, subject: LinkSubject { cluster, brokers, execution }, expires_at, token };
        Ok((link, sig))
    }
}

/// An operator's decision as the endpoint reports it to Step Functions: SendTaskSuccess's output for
/// an approval, SendTaskFailure's cause for a rejection. Who clicked is unknown (links are bearer
/// capabilities), so where from is recorded for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    pub approved: bool,
    pub note: Option<String>,
    pub decided_at: Timestamp,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Decision {
    pub fn new(action: Action, note: Option<&str>, decided_at: Timestamp) -> Self {
        Self {
            action,
            approved: action == Action::Approve,
            note: note.and_then(clean_note),
            decided_at,
            source_ip: None,
            user_agent: None,
        }
    }

    /// SendTaskFailure's `cause` for a rejection (Step Functions allows 32,768 characters).
    pub fn rejection_cause(&self) -> String {
        let mut cause = format!("rejected by an operator at {}", self.decided_at);
        if let Some(ip) = &self.source_ip {
            cause.push_str(&format!(" from {ip}"));
        }
        match &self.note {
            Some(note) => cause.push_str(&format!(": {note}")),
            None => cause.push_str(" (no reason given)"),
        }
        cause
    }
}

/// A free-text note made safe to store and show: one line, no control characters, bounded.
/// Empty → None.
pub fn clean_note(note: &str) -> Option<String> {
    let one_line: String = note.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = one_line.split_whitespace().collect();
    let joined = words.join(" ");
    let cut: String = joined.chars().take(MAX_NOTE_CHARS).collect();
    (!cut.is_empty()).then_some(cut)
}

/// Decodes `application/x-www-form-urlencoded` text (a form's POST body, a raw query string): `+` is
/// a space, `%XX` a byte; pairs that are not UTF-8 after decoding are dropped, so a link with such a
/// value fails as incomplete rather than as something else.
pub fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned()).ok();
    text.split('&')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// Bounded, printable echo of a bad value for an error message.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub fn key() -> SigningKey {
        SigningKey::from_secret("0123456789abcdef0123456789abcdef0123456789abcdef").unwrap()
    }

    pub fn subject() -> LinkSubject {
        LinkSubject {
            cluster: ClusterName::parse("demo").unwrap(),
            brokers: BrokerChange::new(2, 4).unwrap(),
            execution: ExecutionName::parse("1a2b3c4d-demo-20261125T180000Z").unwrap(),
        }
    }

    pub fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// A token shaped like a real one: base64 with `+`, `/` and `=`.
    pub const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAX+/abc==";

    pub fn link(action: Action) -> Link {
        Link::new(action, subject(), TaskToken::new(TOKEN).unwrap(), t("2026-11-25T19:00:00Z"))
    }

    /// Splits a URL's query the way a server does (percent-decoding, `+` as space).
    pub fn query_of(url: &str) -> Vec<(String, String)> {
        parse_urlencoded(url.split_once('?').unwrap().1)
    }

    #[test]
    fn form_bodies_decode_like_browsers_encode() {
        assert_eq!(
            parse_urlencoded("note=looks+good%21&token=a%2Bb%2F%3D&empty=&flag&bad=%FF"),
            vec![
                ("note".into(), "looks good!".into()),
                ("token".into(), "a+b/=".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
    }

    fn verify(params: &[(String, String)], now: &str) -> Result<Link, LinkError> {
        Link::verify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key(), t(now))
    }

    fn base() -> BaseUrl {
        BaseUrl::parse("https://abc.lambda-url.us-east-1.on.aws/").unwrap()
    }

    #[test]
    fn a_link_round_trips_through_its_url() {
        for action in [Action::Approve, Action::Reject] {
            let url = link(action).url(&base(), &key());
            assert!(url.starts_with("https://abc.lambda-url.us-east-1.on.aws/?action="), "{url}");
            // `+`, `/` and `=` of the token are escaped, so a form decoder cannot turn them into spaces.
            assert!(url.contains("token=AQCEAAAAKgAAAAMAAAAAAAAAAX%2B%2Fabc%3D%3D"), "{url}");
            let back = verify(&query_of(&url), "2026-11-25T18:30:00Z").unwrap();
            assert_eq!(back, link(action));
            assert_eq!(back.token.expose(), TOKEN);
        }
    }

    #[test]
    fn every_field_is_covered_by_the_signature() {
        let url = link(Action::Approve).url(&base(), &key());
        let good = query_of(&url);
        let tampered = [
            ("action", "reject"),
            ("cluster", "other"),
            ("from", "1"),
            ("to", "12"),
            ("execution", "someone-else"),
            ("expires", "1999999999"),
            ("token", "AQCEAAAAKgAAAAMAAAAAAAAAAX+/abd=="),
        ];
        for (field, value) in tampered {
            let params: Vec<(String, String)> =
                good.iter().map(|(k, v)| (k.clone(), if k == field { value.to_owned() } else { v.clone() })).collect();
            assert_eq!(verify(&params, "2026-11-25T18:30:00Z"), Err(LinkError::Forged), "{field}");
        }
    }

    #[test]
    fn another_key_or_a_mangled_signature_is_forged() {
        let other = SigningKey::from_secret(&"z".repeat(40)).unwrap();
        let url = link(Action::Approve).url(&base(), &other);
        assert_eq!(verify(&query_of(&url), "2026-11-25T18:30:00Z"), Err(LinkError::Forged));
        let mut params = query_of(&link(Action::Approve).url(&base(), &key()));
        let sig = params.iter_mut().find(|(k, _)| k == "sig").unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sig.1).unwrap();
        bytes[31] ^= 1;
        sig.1 = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(verify(&params, "2026-11-25T18:30:00Z"), Err(LinkError::Forged));
    }

    #[test]
    fn expiry_is_checked_after_the_signature() {
        let params = query_of(&link(Action::Approve).url(&base(), &key()));
        assert!(verify(&params, "2026-11-25T18:59:59Z").is_ok());
        assert_eq!(verify(&params, "2026-11-25T19:00:00Z"), Err(LinkError::Expired(t("2026-11-25T19:00:00Z"))));
        // A forged link that is also expired is reported as forged: the forger learns nothing more.
        let forged: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.clone(), if k == "to" { "6".into() } else { v.clone() })).collect();
        assert_eq!(verify(&forged, "2030-01-01T00:00:00Z"), Err(LinkError::Forged));
    }

    #[test]
    fn malformed_links_say_what_is_wrong() {
        let good = query_of(&link(Action::Approve).url(&base(), &key()));
        let without =
            |field: &str| -> Vec<(String, String)> { good.iter().filter(|(k, _)| k != field).cloned().collect() };
        for field in ["action", "cluster", "from", "to", "execution", "expires", "token", "sig"] {
            match verify(&without(field), "2026-11-25T18:30:00Z") {
                Err(LinkError::Malformed(m)) => assert!(m.contains(field), "{m}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut twice = good.clone();
        twice.push(("action".into(), "reject".into()));
        assert!(matches!(verify(&twice, "2026-11-25T18:30:00Z"), Err(LinkError::Malformed(m)) if m.contains("twice")));
        let with = |field: &str, value: &str| -> Vec<(String, String)> {
            good.iter().map(|(k, v)| (k.clone(), if k == field { value.to_owned() } else { v.clone() })).collect()
        };
        for (field, value) in [
            ("action", "approve!"),
            ("from", "-2"),
            ("to", "4 "),
            ("to", "1"),
            ("cluster", "a b"),
            ("expires", "soon"),
            ("sig", "short"),
            ("token", ""),
            ("execution", "<script>"),
        ] {
            assert!(
                matches!(verify(&with(field, value), "2026-11-25T18:30:00Z"), Err(LinkError::Malformed(_))),
                "{field}={value}"
            );
        }
        // Unknown parameters (a tracker's, the page's note) are ignored.
        let mut extra = good.clone();
        extra.push(("utm_source".into(), "mail".into()));
        extra.push(("note".into(), "ok".into()));
        assert!(verify(&extra, "2026-11-25T18:30:00Z").is_ok());
    }

    #[test]
    fn secrets_are_never_printed() {
        let l = link(Action::Approve);
        let debug = format!("{l:?} {:?}", key());
        assert!(!debug.contains(TOKEN) && !debug.contains("0123456789abcdef"), "{debug}");
        assert!(debug.contains("TaskToken(<redacted, 33 bytes>)"), "{debug}");
    }

    #[test]
    fn keys_and_base_urls_are_checked() {
        assert_eq!(SigningKey::from_secret(" short \n").unwrap_err(), KeyError::TooShort { len: 5 });
        assert!(SigningKey::from_secret(&format!("{}\n", "k".repeat(32))).is_ok());
        for good in [
            "https://abc.lambda-url.us-east-1.on.aws/",
            "https://api.example.com/prod/approval",
            "http://127.0.0.1:9000/lambda-url/approval/",
            "http://localhost:9000/",
        ] {
            assert!(BaseUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "http://example.com/",
            "ftp://x/",
            "https://",
            "https:///path",
            "https://x/?a=b",
            "https://x/#f",
            "https://x/\"><script>",
            "https://x/ y",
            "http://127.0.0.1.evil.com/",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn notes_are_one_bounded_line() {
        assert_eq!(clean_note("  looks\r\n good \t "), Some("looks good".into()));
        assert_eq!(clean_note(" \n "), None);
        assert_eq!(clean_note(&"x".repeat(2000)).unwrap().chars().count(), MAX_NOTE_CHARS);
        let d = Decision::new(Action::Reject, Some("not during\nBlack Friday"), t("2026-11-25T18:10:00Z"));
        assert_eq!(d.rejection_cause(), "rejected by an operator at 2026-11-25T18:10:00Z: not during Black Friday");
        assert!(!d.approved);
    }

    proptest! {
        #[test]
        fn any_token_round_trips(token in "[ -~]{1,300}") {
            let l = Link::new(Action::Reject, subject(), TaskToken::new(token.clone()).unwrap(), t("2026-11-25T19:00:00Z"));
            let params = query_of(&l.url(&base(), &key()));
            let back = Link::verify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key(), t("2026-11-25T18:00:00Z")).unwrap();
            prop_assert_eq!(back.token.expose(), token.as_str());
        }
    }
}
