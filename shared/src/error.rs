//! The HTTP error model: every non-2xx body is built here.

use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A request whose headers or request line do not make a URL.
    BadRequest,
    InvalidParameter,
    InvalidCursor,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    RateLimited,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidParameter | ErrorCode::InvalidCursor => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// An error a client can act on; `Internal` hides its cause from the client (it is logged instead).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub parameter: Option<String>,
    /// Seconds for `Retry-After` on 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            parameter: None,
            retry_after: None,
        }
    }

    pub fn parameter(name: &str, message: impl Into<String>) -> Self {
        ApiError {
            parameter: Some(name.to_string()),
            ..Self::new(ErrorCode::InvalidParameter, message)
        }
    }

    pub fn invalid_cursor(message: impl Into<String>) -> Self {
        ApiError {
            parameter: Some("cursor".into()),
            ..Self::new(ErrorCode::InvalidCursor, message)
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "a valid API key is required: Authorization: Bearer <key>",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "this API key belongs to another project")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(ErrorCode::RateLimited, "too many requests; retry after the given delay")
        }
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "internal error; retry later and quote the request id if it persists",
        )
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// `{"error": {"code", "message", "requestId", "parameter"?}}`
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        let mut error = json!({
            "code": self.code.as_str(),
            "message": self.message,
            "requestId": request_id,
        });
        if let Some(p) = &self.parameter {
            error["parameter"] = json!(p);
        }
        json!({ "error": error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_code_message_request_id_and_parameter() {
        let e = ApiError::parameter("limit", "limit must be between 1 and 1000");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.body("req-1"),
            json!({"error": {"code": "invalid_parameter", "message": "limit must be between 1 and 1000",
                             "requestId": "req-1", "parameter": "limit"}})
        );
        assert!(ApiError::internal().body("r")["error"].get("parameter").is_none());
    }

    #[test]
    fn statuses_match_the_contract() {
        assert_eq!(ApiError::invalid_cursor("x").status(), 400);
        assert_eq!(ApiError::unauthorized().status(), 401);
        assert_eq!(ApiError::forbidden().status(), 403);
        assert_eq!(ApiError::not_found("execution").status(), 404);
        assert_eq!(ApiError::rate_limited(1).status(), 429);
        assert_eq!(ApiError::internal().status(), 500);
    }
}
