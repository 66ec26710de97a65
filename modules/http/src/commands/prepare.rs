//! The checks of a request's data, shared by `http:request` and `http:check-task`: the URL
//! (scheme, allowed host, literal IP outside the denied networks), the method, the headers,
//! `body` xor `json`, and the status patterns. Every refusal is `invalid_params`, permanent,
//! and states the rule.

use http_api::{RequestParams, StatusPattern};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use systemprompt_module_sdk::CommandError;

use crate::policy::Policy;

/// An accepted status range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusRange(pub(crate) u16, pub(crate) u16);

/// A request that passed the checks.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) expect: Vec<StatusRange>,
}

fn refuse(message: String) -> CommandError {
    CommandError::invalid_params(message).permanent()
}

/// Checks `params` against the rules and `policy`.
pub(crate) fn prepare(policy: &Policy, params: &RequestParams) -> Result<Prepared, CommandError> {
    let url = Url::parse(&params.url).map_err(|error| refuse(format!("`url` must be an absolute URL: {error}")))?;
    policy.check_url(&url).map_err(refuse)?;
    let method = params.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| refuse(format!("`method` must be an HTTP method token, not `{method}`")))?;
    if params.body.is_some() && params.json.is_some() {
        return Err(refuse("`body` and `json` cannot both be set".into()));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &params.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| refuse(format!("`headers`: `{name}` is not a valid header name")))?;
        // The value is never quoted back: it may be a secret.
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| refuse(format!("`headers`: the value of `{name}` is not a valid header value")))?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    let expect = if params.expect_status.is_empty() {
        vec![StatusRange(200, 299)]
    } else {
        params.expect_status.iter().map(parse_status).collect::<Result<Vec<_>, _>>()?
    };
    Ok(Prepared { method, url, headers, expect })
}

fn parse_status(pattern: &StatusPattern) -> Result<StatusRange, CommandError> {
    let bad = |text: &str| {
        refuse(format!("`expect_status`: `{text}` is not a status code (100-599) or a class like \"2xx\""))
    };
    match pattern {
        StatusPattern::Code(code) if (100..=599).contains(code) => Ok(StatusRange(*code, *code)),
        StatusPattern::Code(code) => Err(bad(&code.to_string())),
        StatusPattern::Text(text) => {
            let lower = text.trim().to_ascii_lowercase();
            if let Some(class) =
                lower.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()).filter(|d| (1..=5).contains(d))
            {
                return Ok(StatusRange(class * 100, class * 100 + 99));
            }
            match lower.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => Ok(StatusRange(code, code)),
                _ => Err(bad(text)),
            }
        }
    }
}
