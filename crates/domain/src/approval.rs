//! Approval mode, the pure part: approve/reject links signed with HMAC-SHA256 over the task token, the
//! action, what is being decided and the expiry; the plain-text email that carries the plan, the fix
//! and the cost; the small HTML pages the approval endpoint answers with. No I/O, no clock: `now` is
//! always a parameter.

mod email;
mod link;
mod page;
mod prices;

pub use email::{ApprovalEmail, EmailText, IncidentFacts, PlanSummary, Proposal, human_bytes, human_duration};
pub use link::{
    Action, BaseUrl, Decision, ExecutionName, KeyError, Link, LinkError, LinkSubject, MAX_NOTE_CHARS,
    MAX_VALIDITY_SECONDS, MIN_KEY_BYTES, SigningKey, TaskToken, clean_note, parse_urlencoded,
};
pub use page::{DecisionPage, Page, html_escape};
pub use prices::{
    BrokerPrice, CostEstimate, HOURS_PER_MONTH, PRICE_REGION, PRICE_SOURCE, PRICES, broker_price, cost_of,
};
