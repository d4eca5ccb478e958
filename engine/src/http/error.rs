//! Error answers: a status code and `{"error": "..."}` naming what was wrong, and the one place
//! where the errors of storage, the data interface and the executor become status codes.

use crate::data;
use crate::exec;
use actix_web::{http::StatusCode, HttpResponse, ResponseError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            answer.insert_header(("WWW-Authenticate", "Basic realm=\"gemini\""));
        }
        answer.json(serde_json::json!({ "error": self.message }))
    }
}

fn storage_status(e: &crate::data::StoreError) -> StatusCode {
    match e.is_not_found() {
        true => StatusCode::NOT_FOUND,
        false => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn data_status(e: &data::Error) -> StatusCode {
    match e {
        data::Error::Storage(e) => storage_status(e),
        data::Error::PeersUnreachable { .. } | data::Error::PeerFailed { .. } | data::Error::TooFewCopies { .. } => StatusCode::SERVICE_UNAVAILABLE,
        data::Error::NotShared { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<crate::data::StoreError> for ApiError {
    fn from(e: crate::data::StoreError) -> ApiError {
        ApiError::new(storage_status(&e), e.to_string())
    }
}

impl From<data::Error> for ApiError {
    fn from(e: data::Error) -> ApiError {
        ApiError::new(data_status(&e), e.to_string())
    }
}

impl From<exec::Error> for ApiError {
    fn from(e: exec::Error) -> ApiError {
        match e {
            exec::Error::Data(e) => e.into(),
            exec::Error::Statement(message) => ApiError::bad_request(message),
            exec::Error::Invalid(e) => ApiError::bad_request(e.to_string()),
            exec::Error::Matcher(e) => ApiError::bad_request(e.to_string()),
        }
    }
}
