//! The one error shape of the HTTP API: `{"error": {"code", "message", "details"}}`, with
//! the status its code calls for. A bus error keeps its code and message; the HTTP layer's
//! own refusals (no token, malformed JSON, a body too large) use codes of their own.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::error::{RetryHint, code};

/// An HTTP error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// A stable code: a bus error's own, or one of this layer's.
    pub code: String,
    /// What went wrong and what to do, for a person.
    pub message: String,
    /// Structured details, when the command gave any.
    pub details: Option<serde_json::Value>,
    /// Seconds to wait before trying again (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of this layer.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_owned(), message: message.into(), details: None, retry_after: None }
    }

    /// 400: the request itself is malformed (JSON, a query value of the wrong type).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no usable token.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the token may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

/// The status a bus error code calls for.
pub fn status_of(error_code: &str) -> StatusCode {
    match error_code {
        // The request was read, the command refused its values.
        code::INVALID_PARAMS => StatusCode::UNPROCESSABLE_ENTITY,
        code::UNKNOWN_COMMAND | code::NOT_FOUND => StatusCode::NOT_FOUND,
        code::CONFLICT => StatusCode::CONFLICT,
        code::TIMEOUT => StatusCode::GATEWAY_TIMEOUT,
        code::UNAVAILABLE | code::CANCELLED => StatusCode::SERVICE_UNAVAILABLE,
        // The command ran and reported failure: the upstream of this route failed.
        code::FAILED => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> ApiError {
        let retry_after = match error.retry {
            Some(RetryHint::AfterMs(ms)) => Some(ms.div_ceil(1000).max(1)),
            _ => None,
        };
        ApiError {
            status: status_of(&error.code),
            code: error.code,
            message: error.message,
            details: error.details,
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code, "message": self.message, "details": self.details },
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
