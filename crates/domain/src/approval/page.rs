//! The approval endpoint's HTML: the decision page a GET shows (what will happen, an Approve and a
//! Reject button that POST back) and the one-message pages for every outcome. No script, no external
//! resource; every value is HTML-escaped, whatever validated it before.

use super::link::{Action, Link, LinkError, SigningKey};
use crate::time::Timestamp;

/// A page and its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub title: String,
    pub html: String,
}

/// Escapes text for HTML element content and quoted attribute values alike.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;\
line-height:1.5;color:#222}h1{font-size:1.4rem}dt{font-weight:600}dd{margin:0 0 .5rem 0}\
form{margin:1rem 0;padding:1rem;border:1px solid #ccc;border-radius:.5rem}\
textarea{width:100%;box-sizing:border-box}button{font-size:1rem;padding:.5rem 1.2rem;margin-top:.5rem}\
.approve button{background:#1a7f37;color:#fff;border:0}.reject button{background:#b42318;color:#fff;border:0}\
.primary{border-width:2px}.muted{color:#666;font-size:.9rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{STYLE}</style></head>\n\
         <body>\n{body}\n</body></html>\n",
        title = html_escape(title)
    )
}

fn message(status: u16, title: &str, paragraphs: &[String]) -> Page {
    let mut body = format!("<h1>{}</h1>\n", html_escape(title));
    for p in paragraphs {
        body.push_str(&format!("<p>{}</p>\n", html_escape(p)));
    }
    Page { status, title: title.to_owned(), html: document(title, &body) }
}

fn what(link: &Link) -> String {
    let s = &link.subject;
    format!(
        "add {} brokers to the MSK cluster {} ({} -> {}), then move partitions onto them (execution {})",
        s.brokers.to() - s.brokers.from(),
        s.cluster,
        s.brokers.from(),
        s.brokers.to(),
        s.execution
    )
}

/// The page a GET shows: never acts, only explains and offers both buttons.
#[derive(Debug)]
pub struct DecisionPage<'a> {
    pub link: &'a Link,
    pub key: &'a SigningKey,
    pub now: Timestamp,
}

impl DecisionPage<'_> {
    pub fn render(&self) -> Page {
        let link = self.link;
        let s = &link.subject;
        let title = match link.action {
            Action::Approve => format!("Approve scaling {}?", s.cluster),
            Action::Reject => format!("Reject scaling {}?", s.cluster),
        };
        let left = link.expires_at.seconds_since(self.now).max(0);
        let mut body = format!("<h1>{}</h1>\n", html_escape(&title));
        body.push_str(&format!(
            "<p>msk-autoheal is waiting for a decision. Approving lets it {}.</p>\n",
            html_escape(&what(link))
        ));
        body.push_str("<dl>\n");
        for (term, value) in [
            ("Cluster", s.cluster.to_string()),
            ("Brokers", format!("{} -> {}", s.brokers.from(), s.brokers.to())),
            ("Execution", s.execution.to_string()),
            ("Decide before", format!("{} (in {} min)", link.expires_at, left / 60)),
        ] {
            body.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", html_escape(term), html_escape(&value)));
        }
        body.push_str("</dl>\n");
        // The link's own action first, the other one below it: one click either way.
        for action in [link.action, link.action.other()] {
            body.push_str(&self.form(action, action == link.action));
        }
        body.push_str(
            "<p class=\"muted\">Opening this page changed nothing: only a button does. \
             Each button works once; after a decision, or after the deadline, the links stop working.</p>\n",
        );
        Page { status: 200, title: title.clone(), html: document(&title, &body) }
    }

    fn form(&self, action: Action, primary: bool) -> String {
        let (class, label, note_label, button) = match action {
            Action::Approve => ("approve", "Approve", "Note for the record (optional)", "Approve and scale"),
            Action::Reject => ("reject", "Reject", "Reason (optional)", "Reject; change nothing"),
        };
        let class = if primary { format!("{class} primary") } else { class.to_owned() };
        // No action attribute: the form posts to this very URL, whatever path the endpoint sits on.
        let mut f = format!(
            "<form method=\"post\" class=\"{class}\" id=\"{id}-form\">\n<h2>{label}</h2>\n",
            id = action.as_str()
        );
        for (name, value) in self.link.with_action(action).fields(self.key) {
            f.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                html_escape(name),
                html_escape(&value)
            ));
        }
        f.push_str(&format!(
            "<label>{note_label}<br><textarea name=\"note\" rows=\"2\" maxlength=\"500\"></textarea></label><br>\n\
             <button type=\"submit\" id=\"{id}\">{button}</button>\n</form>\n",
            id = action.as_str()
        ));
        f
    }
}

impl Page {
    /// After SendTaskSuccess.
    pub fn approved(link: &Link) -> Self {
        message(
            200,
            "Approved",
            &[
                format!("Thank you. msk-autoheal will now {}.", what(link)),
                "A notification follows when the remediation has finished.".into(),
            ],
        )
    }

    /// After SendTaskFailure(Rejected).
    pub fn rejected(link: &Link) -> Self {
        message(
            200,
            "Rejected",
            &[
                format!(
                    "The remediation of {} stops here: no broker is added and no partition moves.",
                    link.subject.cluster
                ),
                "Step Functions records the rejection (error Rejected) with your reason.".into(),
            ],
        )
    }

    /// Step Functions no longer waits for this token (TaskTimedOut, InvalidToken, TaskDoesNotExist).
    pub fn no_longer_waiting(link: &Link) -> Self {
        message(
            410,
            "This request is no longer waiting",
            &[
                format!(
                    "Execution {} is not waiting for a decision any more: it was already approved or rejected, \
                     its approval window ran out, or it was stopped.",
                    link.subject.execution
                ),
                "Nothing was changed by this click. The notification topic has the outcome.".into(),
            ],
        )
    }

    /// A refused link: no Step Functions call was made.
    pub fn link_error(err: &LinkError) -> Self {
        match err {
            LinkError::Malformed(why) => message(
                400,
                "This link is incomplete",
                &[
                    format!("{why}."),
                    "Mail clients sometimes cut long links: open the whole link from the email.".into(),
                ],
            ),
            LinkError::Forged => message(
                403,
                "This link is not valid",
                &["Its signature does not match: it was changed, or it was not made by this msk-autoheal stack. \
                   Nothing was changed."
                    .into()],
            ),
            LinkError::Expired(at) => message(
                403,
                "This link has expired",
                &[
                    format!("It worked until {at}. Nothing was changed."),
                    "Once the approval window ends the remediation stops by itself (ApprovalTimedOut).".into(),
                ],
            ),
        }
    }

    /// Step Functions throttled or failed transiently: the decision was not recorded.
    pub fn try_again() -> Self {
        message(
            503,
            "Please try again",
            &["Step Functions did not take the decision just now (throttled or unavailable). \
               Nothing was recorded: press the button again in a moment."
                .into()],
        )
    }

    /// Anything else (permissions, misconfiguration): the decision was not recorded.
    pub fn failed() -> Self {
        message(
            502,
            "The decision could not be recorded",
            &["Step Functions refused the call; the endpoint's logs say why. \
               Nothing was recorded: decide in the Step Functions console instead."
                .into()],
        )
    }

    pub fn method_not_allowed() -> Self {
        message(405, "Method not allowed", &["Open the link from the email (GET), then press a button (POST).".into()])
    }
}

#[cfg(test)]
mod tests {
    use super::super::link::tests::{TOKEN, key, link, t};
    use super::*;

    #[test]
    fn escapes_everything_that_could_break_out() {
        assert_eq!(html_escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn the_decision_page_explains_and_offers_both_buttons() {
        let l = link(Action::Approve);
        let page = DecisionPage { link: &l, key: &key(), now: t("2026-11-25T18:30:00Z") }.render();
        assert_eq!(page.status, 200);
        let h = &page.html;
        assert!(h.contains("<title>Approve scaling demo?</title>"), "{h}");
        assert!(h.contains("add 2 brokers to the MSK cluster demo (2 -&gt; 4)"), "{h}");
        assert!(h.contains("2026-11-25T19:00:00Z (in 30 min)"), "{h}");
        // Approve first (the link's action), then reject, each posting its own signed fields.
        let approve = h.find("id=\"approve-form\"").unwrap();
        let reject = h.find("id=\"reject-form\"").unwrap();
        assert!(approve < reject);
        assert!(h.contains("<input type=\"hidden\" name=\"action\" value=\"approve\">"));
        assert!(h.contains("<input type=\"hidden\" name=\"action\" value=\"reject\">"));
        assert_eq!(h.matches("<form method=\"post\"").count(), 2);
        assert!(!h.contains("<script") && !h.contains("action=\"http"), "no script, posts back to itself");
        // The token is in the forms (HTML-escaped), nowhere else.
        assert_eq!(h.matches(&html_escape(TOKEN)).count(), 2);
    }

    #[test]
    fn the_reject_link_leads_with_reject() {
        let l = link(Action::Reject);
        let page = DecisionPage { link: &l, key: &key(), now: t("2026-11-25T18:30:00Z") }.render();
        assert!(page.html.find("id=\"reject-form\"").unwrap() < page.html.find("id=\"approve-form\"").unwrap());
        assert!(page.html.contains("reject primary"));
    }

    #[test]
    fn outcome_pages_have_the_right_status() {
        let l = link(Action::Approve);
        assert_eq!(Page::approved(&l).status, 200);
        assert_eq!(Page::rejected(&l).status, 200);
        assert_eq!(Page::no_longer_waiting(&l).status, 410);
        assert_eq!(Page::link_error(&LinkError::Malformed("sig is missing".into())).status, 400);
        assert_eq!(Page::link_error(&LinkError::Forged).status, 403);
        let expired = Page::link_error(&LinkError::Expired(t("2026-11-25T19:00:00Z")));
        assert_eq!(expired.status, 403);
        assert!(expired.html.contains("It worked until 2026-11-25T19:00:00Z"));
        assert_eq!(Page::try_again().status, 503);
        assert_eq!(Page::method_not_allowed().status, 405);
        let hostile = Page::link_error(&LinkError::Malformed("<img src=x onerror=alert(1)>".into()));
        assert!(!hostile.html.contains("<img"), "{}", hostile.html);
    }
}
