//! Error answers: a status code and `{"error": "..."}` naming what was wrong, and the one place
//! where the errors of storage, the data interface and the executor become status codes.

use crate::data;
use crate::data::StoreError;
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

/// A storage fault as a client sees it. A fault of RocksDB or the file system is named in the
/// user's terms (507 for a full disk), never with its file paths or RocksDB's status text,
/// which go to the log; the other errors are the user's words already.
fn storage_answer(e: &StoreError) -> ApiError {
    let (mut contexts, mut cause) = (Vec::new(), e);
    while let StoreError::Context { context, source } = cause {
        contexts.push(context.as_str());
        cause = source;
    }
    let full = match cause {
        StoreError::RocksDb(_) | StoreError::Io(_) => e.to_string(),
        _ if e.is_not_found() => return ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        _ => return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    tracing::error!(error = %full, "storage fault");
    let disk_full = matches!(cause, StoreError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull) || full.contains("No space left on device");
    let (status, what) = match disk_full {
        true => (StatusCode::INSUFFICIENT_STORAGE, "the disk of the data directory is full"),
        false => (StatusCode::INTERNAL_SERVER_ERROR, "the data directory could not be read or written (the server's log has the details)"),
    };
    contexts.push(what);
    ApiError::new(status, contexts.join(": "))
}

fn data_answer(e: &data::Error) -> ApiError {
    let status = match e {
        data::Error::Storage(e) => return storage_answer(e),
        data::Error::PeersUnreachable { .. } | data::Error::PeerFailed { .. } | data::Error::TooFewCopies { .. } => StatusCode::SERVICE_UNAVAILABLE,
        data::Error::NotShared { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, e.to_string())
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        storage_answer(&e)
    }
}

impl From<data::Error> for ApiError {
    fn from(e: data::Error) -> ApiError {
        data_answer(&e)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What RocksDB answers when the disk is full, as a write sees it.
    fn full_disk() -> StoreError {
        let io = std::io::Error::other("IO error: No space left on device: While appending to file: /var/lib/gemini/rocksdb/000017.sst: No space left on device");
        StoreError::Io(io).context("storage write failed")
    }

    #[test]
    fn a_full_disk_is_507_in_the_users_words_without_paths() {
        let e = ApiError::from(full_disk());
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(e.message, "storage write failed: the disk of the data directory is full");
        let e = ApiError::from(data::Error::Storage(full_disk()));
        assert_eq!((e.status, e.message.contains('/')), (StatusCode::INSUFFICIENT_STORAGE, false));
    }

    #[test]
    fn other_faults_of_the_files_name_no_file_and_the_rest_keep_their_words() {
        let e = ApiError::from(StoreError::Io(std::io::Error::other("/var/lib/gemini/x: Permission denied")).context("shard 3"));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.message, "shard 3: the data directory could not be read or written (the server's log has the details)");
        let e = ApiError::from(StoreError::DatabaseNotFound("db".into()));
        assert_eq!((e.status, e.message.as_str()), (StatusCode::NOT_FOUND, "database not found: db"));
        let e = ApiError::from(StoreError::Corrupt("open chunk".into()));
        assert_eq!((e.status, e.message.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "corrupt open chunk"));
    }
}
