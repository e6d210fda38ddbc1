//! The approval Lambda's configuration (read once at cold start) and its HTTP edge: a function URL
//! (or HTTP API) event in, an HTML page out with headers that keep it uncached, unframed and
//! script-free. The decisions themselves are `autoheal_app::approval::ApprovalEndpoint`'s.

use autoheal_app::approval::{ApprovalEndpoint, EndpointRequest};
use autoheal_aws::callbacks::TaskCallbacks;
use autoheal_aws::secrets::SecretLocation;
use autoheal_domain::approval::{Page, parse_urlencoded};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::{ConfigError, Source, required};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub secret: SecretLocation,
}

impl Config {
    pub fn from_env(src: &impl Source) -> Result<Self, ConfigError> {
        let secret = required(src, "APPROVAL_SECRET_ARN")?;
        let location = SecretLocation::parse(&secret).map_err(|reason| ConfigError::Invalid {
            name: "APPROVAL_SECRET_ARN",
            value: secret.clone(),
            reason,
        })?;
        Ok(Self { secret: location })
    }
}

/// Forms are small: a signed link and a 500-character note. Anything much larger is not ours.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The parts of the HTTP request the endpoint reads.
pub fn endpoint_request(req: &Request) -> EndpointRequest {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let is_form = header("content-type")
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form = match req.body() {
        Body::Text(t) if is_form && t.len() <= MAX_FORM_BYTES => parse_urlencoded(t),
        Body::Binary(b) if is_form && b.len() <= MAX_FORM_BYTES => {
            std::str::from_utf8(b).map(parse_urlencoded).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let (source_ip, context_agent) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.http.source_ip.clone(), ctx.http.user_agent.clone()),
        Some(RequestContext::ApiGatewayV1(ctx)) => (ctx.identity.source_ip.clone(), ctx.identity.user_agent.clone()),
        _ => (None, None),
    };
    EndpointRequest {
        method: req.method().as_str().to_owned(),
        query: req.query_string_parameters().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        form,
        source_ip,
        // The header is what the browser sent; the context's copy is the same on AWS, but not under
        // every local emulator.
        user_agent: header("user-agent").or(context_agent),
    }
}

/// The page as an HTTP response. A HEAD gets the headers only.
pub fn http_response(page: Page, head: bool) -> Response<Body> {
    let builder = Response::builder()
        .status(page.status)
        .header("content-type", "text/html; charset=utf-8")
        // The page holds a signed link: no cache may keep it.
        .header("cache-control", "no-store")
        // No script, no external resource, forms post back to this origin only, no framing
        // (clickjacking an Approve button), and the link never leaks through a Referer.
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .header("x-robots-tag", "noindex");
    let body = if head { Body::Empty } else { Body::Text(page.html) };
    // Every header above is a valid static value, so building cannot fail; fall back to a bare 500.
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// One request, end to end.
pub async fn respond<C: TaskCallbacks>(endpoint: &ApprovalEndpoint<C>, req: Request, now: Timestamp) -> Response<Body> {
    let request = endpoint_request(&req);
    let page = endpoint.handle(&request, now).await;
    http_response(page, request.method == "HEAD")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../../tests/fixtures/approval/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn config_names_the_variable() {
        let c = Config::from_env(&[("APPROVAL_SECRET_ARN", "msk-autoheal/approval-key")]).unwrap();
        assert_eq!(c.secret, SecretLocation::SecretsManager("msk-autoheal/approval-key".into()));
        let e = Config::from_env(&[("APPROVAL_SECRET_ARN", "/msk-autoheal/approval-key")]).unwrap_err().to_string();
        assert!(e.contains("Secrets Manager"), "{e}");
        let e = Config::from_env(&[("APPROVAL_SECRET_ARN", "arn:aws:iam::1:role/x")]).unwrap_err().to_string();
        assert!(e.contains("APPROVAL_SECRET_ARN"), "{e}");
        assert_eq!(Config::from_env(&[("X", "y")]).unwrap_err(), ConfigError::Missing("APPROVAL_SECRET_ARN"));
    }

    #[test]
    fn a_function_url_get_becomes_its_query() {
        let req = lambda_http::request::from_str(&fixture("function-url-get-approve.json")).unwrap();
        let r = endpoint_request(&req);
        assert_eq!(r.method, "GET");
        assert!(r.form.is_empty());
        let token = r.query.iter().find(|(k, _)| k == "token").map(|(_, v)| v.as_str()).unwrap();
        assert!(token.contains('+') && token.contains('/') && token.ends_with("=="), "decoded intact: {token}");
        assert_eq!(r.source_ip.as_deref(), Some("203.0.113.7"));
        assert!(r.user_agent.as_deref().unwrap().starts_with("Mozilla/5.0"));
    }

    #[test]
    fn a_function_url_form_post_becomes_its_fields() {
        // Function URLs base64-encode form bodies (isBase64Encoded: true).
        let req = lambda_http::request::from_str(&fixture("function-url-post-reject.json")).unwrap();
        let r = endpoint_request(&req);
        assert_eq!(r.method, "POST");
        assert!(r.form.iter().any(|(k, v)| k == "action" && v == "reject"));
        assert!(r.form.iter().any(|(k, v)| k == "note" && v == "not during the sale"));
        assert!(r.form.iter().any(|(k, _)| k == "sig"));
    }

    #[test]
    fn pages_go_out_uncached_unframed_and_headless_on_head() {
        let page = Page::method_not_allowed();
        let r = http_response(page.clone(), false);
        assert_eq!(r.status(), 405);
        let h = |n: &str| r.headers().get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("content-type"), "text/html; charset=utf-8");
        assert_eq!(h("cache-control"), "no-store");
        assert_eq!(h("x-frame-options"), "DENY");
        assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
        assert!(matches!(r.body(), Body::Text(t) if *t == page.html));
        assert!(matches!(http_response(page, true).body(), Body::Empty));
    }
}
