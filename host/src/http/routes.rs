//! The routes modules declare in their manifests (`http:` of a command), each one bus call.
//!
//! A request becomes the call's payload in one place, [`payload`]: the JSON body (an
//! object, or nothing), then the query, then the path parameters, then the route's fixed
//! `set` fields. Query and path values are converted to the argument's declared type here,
//! so a handler sees the same JSON the CLI sends; what the values mean is the handler's to
//! check. Nothing is called when the request cannot be read.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, header};
use systemprompt_module_sdk::manifest::{Access, ArgSpec, ArgType, CommandSpec, Manifest, RouteSpec};

use super::error::ApiError;

/// One command a request may call, with what the HTTP door needs to know of it.
#[derive(Debug)]
pub struct Target {
    /// The full bus name.
    pub command: String,
    /// Its manifest entry (arguments and their types, access).
    pub spec: CommandSpec,
    /// The deadline of a call through HTTP: the command's own, capped by the request timeout.
    pub timeout: Duration,
}

/// A declared route, bound to its target.
#[derive(Debug)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path under `/api/v1`, in axum's `{param}` syntax.
    pub path: String,
    /// The manifest's route.
    pub spec: RouteSpec,
    /// The command it calls.
    pub target: Arc<Target>,
}

/// The commands and routes of `manifests`, which a host serving them routes on its bus.
pub struct Table {
    /// Every command by full name (for `POST /commands/{command}` and access checks).
    pub commands: BTreeMap<String, Arc<Target>>,
    /// Every declared route.
    pub routes: Vec<Route>,
    /// Routes left out because an earlier module declared the same method and path.
    pub conflicts: Vec<String>,
}

impl Table {
    /// Builds the table; `call_timeout` is the bus default, `request_timeout` the HTTP cap.
    pub fn new<'a>(
        manifests: impl IntoIterator<Item = &'a Manifest>,
        call_timeout: Duration,
        request_timeout: Duration,
    ) -> Table {
        let mut table = Table { commands: BTreeMap::new(), routes: Vec::new(), conflicts: Vec::new() };
        let mut taken: HashSet<(String, String)> = HashSet::new();
        for manifest in manifests {
            for spec in &manifest.commands {
                let declared = spec.timeout_ms.map_or(call_timeout, Duration::from_millis);
                let target = Arc::new(Target {
                    command: format!("{}:{}", manifest.name, spec.name),
                    spec: spec.clone(),
                    timeout: declared.min(request_timeout),
                });
                for route in &spec.http {
                    let (method, path) = route.method_and_path();
                    if !taken.insert((method.to_owned(), path.to_owned())) {
                        table.conflicts.push(format!(
                            "{} declares the route '{}', which another module already serves; it is left out",
                            target.command, route.route
                        ));
                        continue;
                    }
                    // The manifest check allowed only these methods.
                    let Ok(method) = Method::from_bytes(method.as_bytes()) else { continue };
                    table.routes.push(Route {
                        method,
                        path: path.to_owned(),
                        spec: route.clone(),
                        target: target.clone(),
                    });
                }
                table.commands.insert(target.command.clone(), target);
            }
        }
        table
    }
}

/// Refuses a token whose role is below the command's access.
pub fn authorise(target: &Target, role: Access) -> Result<(), ApiError> {
    let needed = target.spec.access;
    if needed == Access::Local {
        return Err(ApiError::forbidden(format!(
            "{} is only for the data dir's owner, through the command line on this machine",
            target.command
        )));
    }
    if role < needed {
        return Err(ApiError::forbidden(format!(
            "{} needs a token with the role {} or higher; this token's role is {}",
            target.command,
            needed.role_name(),
            role.role_name()
        )));
    }
    Ok(())
}

fn convert(arg: &ArgSpec, source: &str, text: &str) -> Result<serde_json::Value, ApiError> {
    let wrong = |what: &str| ApiError::bad_request(format!("{source} '{}' must be {what}, got '{text}'", arg.name));
    Ok(match arg.ty {
        ArgType::String => serde_json::Value::String(text.to_owned()),
        ArgType::Integer => serde_json::Value::from(text.parse::<i64>().map_err(|_| wrong("an integer"))?),
        ArgType::Number => {
            let number = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64);
            serde_json::Value::Number(number.ok_or_else(|| wrong("a number"))?)
        }
        // `?wait` alone means true, like the CLI's flag.
        ArgType::Boolean => serde_json::Value::Bool(match text {
            "" | "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(wrong("true or false")),
        }),
        ArgType::Json => serde_json::from_str(text).map_err(|_| wrong("JSON"))?,
    })
}

/// Whether a content type is JSON (`application/json`, `application/x+json`, with parameters).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a request body as the JSON object a payload starts from (an empty body is `{}`).
pub fn body_object(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with 'Content-Type: application/json'",
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(other) => Err(ApiError::bad_request(format!(
            "the body must be a JSON object of the command's fields, got {}",
            match other {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
        Err(error) => Err(ApiError::bad_request(format!(
            "malformed JSON at line {} column {}: {error}",
            error.line(),
            error.column()
        ))),
    }
}

/// The payload of a call through `route`: body, then query, then path, then `set`.
pub fn payload(
    route: &Route,
    headers: &HeaderMap,
    body: &[u8],
    query: &[(String, String)],
    path: &[(String, String)],
) -> Result<Vec<u8>, ApiError> {
    let mut object = body_object(headers, body)?;
    let args = &route.target.spec.args;
    let mut seen = HashSet::new();
    for (name, text) in query {
        let Some(arg) = args.iter().find(|a| a.name == *name) else {
            let names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "unknown query parameter '{name}'; {} takes: {}",
                route.spec.route,
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            )));
        };
        if !seen.insert(name.as_str()) {
            return Err(ApiError::bad_request(format!("query parameter '{name}' is given twice")));
        }
        object.insert(name.clone(), convert(arg, "query parameter", text)?);
    }
    for (name, text) in path {
        // The manifest check made every path parameter an argument.
        if let Some(arg) = args.iter().find(|a| a.name == *name) {
            object.insert(name.clone(), convert(arg, "path parameter", text)?);
        }
    }
    for (name, value) in &route.spec.set {
        object.insert(name.clone(), value.clone());
    }
    serde_json::to_vec(&object).map_err(|error| ApiError::bad_request(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "
name: demo
version: 0.1.0
library: demo
commands:
  - name: show
    summary: Shows one.
    access: read
    args:
      - { name: id, type: integer, required: true }
      - { name: wait, type: boolean }
      - { name: label, type: string }
    http:
      - { route: 'GET /things/{id}' }
      - { route: 'DELETE /things/{id}', set: { confirm: true } }
";

    fn table() -> Table {
        let manifest = Manifest::parse("m.yaml", MANIFEST).unwrap();
        Table::new([&manifest], Duration::from_secs(30), Duration::from_secs(5))
    }

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        headers
    }

    fn strings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn body_query_path_and_set_make_one_typed_payload_the_later_winning() {
        let table = table();
        let delete = &table.routes[1];
        let body = br#"{"label": "from body", "id": 1}"#;
        let payload = payload(delete, &json_headers(), body, &strings(&[("wait", "")]), &strings(&[("id", "42")]));
        let payload: serde_json::Value = serde_json::from_slice(&payload.unwrap()).unwrap();
        assert_eq!(payload, serde_json::json!({"label": "from body", "id": 42, "wait": true, "confirm": true}));
        assert_eq!(table.routes[0].target.timeout, Duration::from_secs(5), "capped by the request timeout");
    }

    #[test]
    fn an_unreadable_request_is_refused_with_the_rule_and_its_status() {
        let table = table();
        let show = &table.routes[0];
        type Case<'a> = (&'a [u8], HeaderMap, &'a [(&'a str, &'a str)], StatusCode, &'a str);
        let cases: [Case<'_>; 5] = [
            (b"{\"id\": ", json_headers(), &[], StatusCode::BAD_REQUEST, "malformed JSON at line 1 column 7"),
            (b"[1]", json_headers(), &[], StatusCode::BAD_REQUEST, "must be a JSON object"),
            (b"{}", HeaderMap::new(), &[], StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json"),
            (b"", HeaderMap::new(), &[("nope", "1")], StatusCode::BAD_REQUEST, "takes: id, wait, label"),
            (b"", HeaderMap::new(), &[("wait", "maybe")], StatusCode::BAD_REQUEST, "must be true or false"),
        ];
        for (body, headers, query, status, rule) in cases {
            let error = payload(show, &headers, body, &strings(query), &[]).unwrap_err();
            assert_eq!(error.status, status, "{}", error.message);
            assert!(error.message.contains(rule), "{}", error.message);
        }
        let error = payload(show, &HeaderMap::new(), b"", &[], &strings(&[("id", "x")])).unwrap_err();
        assert_eq!(error.message, "path parameter 'id' must be an integer, got 'x'");
    }

    #[test]
    fn a_token_below_the_command_access_is_forbidden() {
        let table = table();
        let show = &table.commands["demo:show"];
        assert!(authorise(show, Access::Read).is_ok());
        let mut admin_only = CommandSpec::clone(&show.spec);
        admin_only.access = Access::Admin;
        let target = Target { command: "demo:x".into(), spec: admin_only, timeout: Duration::from_secs(1) };
        let error = authorise(&target, Access::Operate).unwrap_err();
        assert_eq!(error.message, "demo:x needs a token with the role admin or higher; this token's role is operator");
    }
}
