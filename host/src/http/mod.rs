//! The HTTP API: a thin door onto the command bus, like the CLI's socket.
//!
//! Every route under `/api/v1` is one bus call: the routes modules declare in their
//! manifests (`routes.rs`), and `POST /api/v1/commands/{command}` for any command the
//! caller's token may use. Validation, events and audit stay in the command handlers; this
//! layer only reads the request (body limit, JSON, query types), checks the bearer token
//! and its role against the command's `access`, calls, and maps the answer (`error.rs`).
//! `/healthz` and `/readyz` need no token: they say only whether the host is alive and
//! ready.
//!
//! Invariants: no request reaches the bus without a valid token whose role covers the
//! command; a request that cannot be read calls nothing; loopback only (the config refuses
//! other addresses); every error is `{"error": {"code", "message", "details"}}`.

pub mod error;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, get, post};
use systemprompt_module_sdk::manifest::Manifest;
use tokio_util::sync::CancellationToken;

use crate::bus::{CallRequest, CommandBus};
use crate::config::HttpConfig;
use crate::loader::{LoadedModule, ModuleState};
use crate::tokens::{Token, TokenStore};
use error::ApiError;
use routes::{Route, Table, Target};

/// What every request handler shares.
struct HttpState {
    bus: Arc<CommandBus>,
    tokens: Arc<TokenStore>,
    table: Table,
    modules: Vec<Arc<LoadedModule>>,
}

/// A bound, not yet serving, HTTP API.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
}

/// What the API serves: the host's own commands and every started module's.
pub struct Serves<'a> {
    /// The bus every route calls.
    pub bus: Arc<CommandBus>,
    /// The tokens that may call.
    pub tokens: Arc<TokenStore>,
    /// The host's loaded modules (only started ones are routed).
    pub modules: &'a [Arc<LoadedModule>],
    /// The manifests of the host's own commands.
    pub builtins: Vec<Manifest>,
    /// The bus's default deadline.
    pub call_timeout: Duration,
}

impl Server {
    /// Binds `config.bind` (which must be set) and builds the routes.
    pub async fn bind(config: &HttpConfig, serves: Serves<'_>) -> anyhow::Result<Server> {
        let addr = config.bind.ok_or_else(|| anyhow::anyhow!("HTTP is off (http.bind: off)"))?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| {
            anyhow::anyhow!(
                "cannot listen for HTTP on {addr}: {error}; set http.bind in the config or \
                 SYSTEMPROMPT_HTTP_BIND (port 0 picks a free port, 'off' serves no HTTP)"
            )
        })?;
        let started: Vec<&Manifest> =
            serves.modules.iter().filter(|m| m.state() == ModuleState::Started).map(|m| &m.manifest).collect();
        let table = Table::new(serves.builtins.iter().chain(started), serves.call_timeout, config.request_timeout);
        for conflict in &table.conflicts {
            tracing::warn!(%conflict, "HTTP route left out.");
        }
        let state =
            Arc::new(HttpState { bus: serves.bus, tokens: serves.tokens, table, modules: serves.modules.to_vec() });
        Ok(Server { listener, router: router(state, config) })
    }

    /// The address it listens on (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then lets requests in flight finish.
    pub async fn serve(self, shutdown: CancellationToken) {
        if let Err(error) =
            axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown.cancelled_owned()).await
        {
            tracing::error!(%error, "The HTTP server stopped with an error.");
        }
    }
}

fn router(state: Arc<HttpState>, config: &HttpConfig) -> Router {
    let mut by_path: std::collections::BTreeMap<String, axum::routing::MethodRouter<Arc<HttpState>>> =
        std::collections::BTreeMap::new();
    for (index, route) in state.table.routes.iter().enumerate() {
        let Ok(filter) = MethodFilter::try_from(route.method.clone()) else { continue };
        let handler = move |State(state): State<Arc<HttpState>>,
                            axum::Extension(token): axum::Extension<Token>,
                            params: RawPathParams,
                            query: Result<Query<Vec<(String, String)>>, QueryRejection>,
                            headers: HeaderMap,
                            body: Result<Bytes, BytesRejection>| async move {
            let route = &state.table.routes[index];
            declared(&state, route, &token, &params, query, &headers, body).await
        };
        let path = format!("/api/v1{}", route.path);
        let entry = by_path.remove(&path).unwrap_or_default();
        by_path.insert(path, entry.on(filter, handler));
    }
    let mut api = Router::new().route("/api/v1/commands/{command}", post(any_command));
    for (path, methods) in by_path {
        api = api.route(&path, methods);
    }
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_token))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .with_state(state);
    let overloaded = |_: tower::BoxError| async {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests at once (http.max_concurrent_requests); try again",
        )
    };
    api.layer(axum::extract::DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(config.request_timeout))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(config.max_concurrent_requests),
        )
}

/// Lets a request on only with a token that may be used now; the token rides along.
async fn require_token(State(state): State<Arc<HttpState>>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(secret) = presented else {
        let how = if state.tokens.is_empty() {
            "no API token exists yet: create one on this machine with `systemprompt tokens:create --role admin`"
        } else {
            "this route needs 'Authorization: Bearer <token>' (tokens come from `systemprompt tokens:create`)"
        };
        return ApiError::unauthorized(how).into_response();
    };
    match state.tokens.verify(secret) {
        Ok(token) => {
            request.extensions_mut().insert(token);
            next.run(request).await
        }
        Err(refusal) => ApiError::unauthorized(refusal.message()).into_response(),
    }
}

fn unreadable_body(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "payload_too_large", "the body is larger than http.max_body_bytes");
    }
    ApiError::new(status, "bad_request", rejection.body_text())
}

/// A caller's request id (`X-Request-Id`) as the call's correlation id, when it is sane.
fn correlation(headers: &HeaderMap) -> &str {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("")
}

async fn call(state: &HttpState, target: &Target, payload: &[u8], headers: &HeaderMap, status: StatusCode) -> Response {
    let request = CallRequest {
        command: &target.command,
        payload,
        caller: "http",
        correlation_id: correlation(headers),
        timeout: Some(target.timeout),
        ..CallRequest::default()
    };
    match state.bus.call(request).await {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn declared(
    state: &HttpState,
    route: &Route,
    token: &Token,
    params: &RawPathParams,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let prepared = (|| {
        routes::authorise(&route.target, token.role)?;
        let body = body.map_err(unreadable_body)?;
        let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let path: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        routes::payload(route, headers, &body, &query, &path)
    })();
    match prepared {
        Ok(payload) => {
            let status = StatusCode::from_u16(route.spec.status).unwrap_or(StatusCode::OK);
            call(state, &route.target, &payload, headers, status).await
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /api/v1/commands/{command}`: the body is the payload.
async fn any_command(
    State(state): State<Arc<HttpState>>,
    axum::Extension(token): axum::Extension<Token>,
    axum::extract::Path(command): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let prepared = (|| {
        let target = state.table.commands.get(&command).ok_or_else(|| {
            let known = state.table.commands.keys().map(String::as_str);
            ApiError::from(crate::bus::suggest::unknown_command(&command, known))
        })?;
        routes::authorise(target, token.role)?;
        let body = body.map_err(unreadable_body)?;
        let object = routes::body_object(&headers, &body)?;
        let payload = serde_json::to_vec(&object).map_err(|error| ApiError::bad_request(error.to_string()))?;
        Ok::<_, ApiError>((target.clone(), payload))
    })();
    match prepared {
        Ok((target, payload)) => call(&state, &target, &payload, &headers, StatusCode::OK).await,
        Err(error) => error.into_response(),
    }
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "alive" })).into_response()
}

/// Ready when every module is started and each module's `ready` command answers.
async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let mut checks = Vec::new();
    let mut ready = true;
    for module in &state.modules {
        let started = module.state() == ModuleState::Started;
        let mut check = serde_json::json!({ "module": module.name(), "state": module.state().as_str() });
        if !started {
            ready = false;
        } else if let Some(command) = &module.manifest.ready {
            let command = format!("{}:{command}", module.name());
            let request = CallRequest {
                command: &command,
                payload: b"{}",
                caller: "http",
                timeout: Some(Duration::from_secs(5)),
                ..CallRequest::default()
            };
            if let Err(error) = state.bus.call(request).await {
                ready = false;
                check["error"] = serde_json::Value::String(error.message);
            }
        }
        checks.push(check);
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({ "ready": ready, "checks": checks }))).into_response()
}
