//! One error type for the request path, and the one table of stable error codes.
//!
//! [`AppError`] deliberately implements `Debug` but not `Display`: async-graphql converts
//! any `Display` type into a code-less error on `?`, so without `Display` every resolver
//! has to go through [`crate::graphql::GqlResultExt`], which attaches the code.

use std::time::Duration;

use sea_orm::DbErr;

/// Stable codes sent as `extensions.code`. Clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No valid credentials for an operation that needs them, or a bad/expired token.
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// The object does not exist or is not visible to the caller (same answer for both).
    NotFound,
    /// An argument is malformed (bad ID, `first` out of range, …).
    BadUserInput,
    /// The write lost a race (stale version, duplicate live object).
    Conflict,
    /// Too many requests; retry later.
    RateLimited,
    /// A bug or an unavailable dependency. Details are logged, never sent.
    InternalServerError,
    /// The HTTP request is not a valid GraphQL request (malformed JSON, batch, no query).
    BadRequest,
    /// The body exceeds the configured limit.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// Mutations over GET, or a method the endpoint does not serve.
    MethodNotAllowed,
    /// The GraphQL document does not parse.
    GraphqlParseFailed,
    /// An automatic persisted query's hash is not registered: send it again with the query.
    PersistedQueryNotFound,
    /// The query sent with a persisted-query hash is not the one the hash names.
    PersistedQueryHashMismatch,
    /// The document fails validation against the schema (including variable types).
    GraphqlValidationFailed,
    /// Depth, cost, alias or root-field limits exceeded.
    QueryTooComplex,
    /// The search engine is down or too slow; everything else keeps working.
    SearchUnavailable,
    /// The document is over the size or token cap (checked before parsing).
    QueryTooLarge,
    /// Brackets in the document (values, selections, arguments) nest too deep.
    MaxDepthLimit,
    /// The operation (or the request body) took longer than allowed and was cancelled.
    Timeout,
    /// The database cannot be reached right now; retry shortly.
    ServiceUnavailable,
    /// A subscription fell too far behind the events it follows and was ended;
    /// subscribe again (and read what changed meanwhile).
    SubscriberTooSlow,
    /// A per-connection or per-user cap (subscriptions, connections) is reached.
    LimitExceeded,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::BadRequest => "BAD_REQUEST",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::SearchUnavailable => "SEARCH_UNAVAILABLE",
            Self::QueryTooLarge => "QUERY_TOO_LARGE",
            Self::MaxDepthLimit => "MAX_DEPTH_LIMIT",
            Self::Timeout => "TIMEOUT",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::SubscriberTooSlow => "SUBSCRIBER_TOO_SLOW",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }
}

/// Machine-readable reason for a [`FieldError`]; shown to clients as `UserErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorCode {
    Required,
    Invalid,
    TooShort,
    TooLong,
    TooCommon,
    Taken,
    InvalidCredentials,
    OutOfRange,
    Duplicate,
    /// The object changed since the client read it (stale `expectedVersion`).
    Conflict,
    InvalidTransition,
    LastOwner,
    NotFound,
    AlreadyMember,
    /// A live application (or partnership) for this program already exists.
    AlreadyApplied,
    /// The program does not accept applications in its current status.
    NotAccepting,
    /// The program is invite-only and no valid invitation was given.
    InvitationRequired,
    /// The invitation is expired, revoked, used, or meant for someone else.
    InvitationInvalid,
    /// The re-apply policy keeps the program closed to this partner (until a date).
    ReapplyLocked,
    /// The program has no commission rule for the reported event (for the partner's
    /// tier or all tiers).
    NoCommissionRule,
}

/// Something the user can fix, attached to the input field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path inside the mutation's `input` (`email`, `rules.0.rate`), or `None` for
    /// the input as a whole.
    pub field: Option<String>,
    pub code: FieldErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: FieldErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            code,
            message: message.into(),
        }
    }

    pub fn general(code: FieldErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: None,
            code,
            message: message.into(),
        }
    }
}

/// Why a credential was refused. Copy, so it can sit in per-request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    MalformedHeader,
    InvalidToken,
    ExpiredToken,
    InvalidRefreshToken,
    RefreshTokenReused,
    LoginRequired,
    InvalidApiKey,
    /// A valid token of an account that no longer exists.
    AccountGone,
}

impl AuthFailure {
    pub const fn message(self) -> &'static str {
        match self {
            Self::MalformedHeader => "the Authorization header must be `Bearer <token>`",
            Self::InvalidToken => "the access token is invalid",
            Self::ExpiredToken => "the access token has expired",
            Self::InvalidRefreshToken => "the refresh token is invalid or expired",
            Self::RefreshTokenReused => {
                "the refresh token was already used; every session of this log-in has been revoked"
            }
            Self::LoginRequired => "you must be logged in to do this",
            Self::InvalidApiKey => "the API key is invalid or revoked",
            Self::AccountGone => "the account of this access token no longer exists",
        }
    }
}

#[derive(Debug)]
pub enum AppError {
    Unauthenticated(AuthFailure),
    Forbidden,
    NotFound,
    BadUserInput(String),
    Conflict(String),
    RateLimited {
        retry_after: Duration,
    },
    /// The search engine could not answer in time; the cause is logged.
    SearchUnavailable(String),
    /// User-fixable problems; mutations turn these into `userErrors`.
    Invalid(Vec<FieldError>),
    /// The database cannot be reached (acquire timeout, broken connection).
    Unavailable,
    /// The operation ran past its deadline and was cancelled.
    Timeout,
    /// A subscriber fell more events behind than the broadcaster keeps.
    SubscriberTooSlow,
    /// Anything else. The cause is logged with the request id; clients get a fixed text.
    Internal(anyhow::Error),
}

impl AppError {
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn invalid(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::NotFound => ErrorCode::NotFound,
            Self::BadUserInput(_) | Self::Invalid(_) => ErrorCode::BadUserInput,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::SearchUnavailable(_) => ErrorCode::SearchUnavailable,
            Self::Unavailable => ErrorCode::ServiceUnavailable,
            Self::Timeout => ErrorCode::Timeout,
            Self::SubscriberTooSlow => ErrorCode::SubscriberTooSlow,
            Self::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    /// Text that is safe to send to any client.
    pub fn public_message(&self) -> String {
        match self {
            Self::Unauthenticated(reason) => reason.message().to_owned(),
            Self::Forbidden => "you are not allowed to do this".to_owned(),
            Self::NotFound => "not found".to_owned(),
            Self::BadUserInput(message) | Self::Conflict(message) => message.clone(),
            Self::RateLimited { retry_after } => {
                format!(
                    "too many requests; retry in {} s",
                    retry_after.as_secs().max(1)
                )
            }
            Self::Invalid(errors) => errors
                .iter()
                .map(|e| match &e.field {
                    Some(field) => format!("{field}: {}", e.message),
                    None => e.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            Self::SearchUnavailable(_) => {
                "search is unavailable right now; please try again shortly".to_owned()
            }
            Self::Unavailable => {
                "the service is temporarily unavailable; please retry shortly".to_owned()
            }
            Self::Timeout => "the operation took too long and was cancelled".to_owned(),
            Self::SubscriberTooSlow => {
                "this subscription fell too far behind and was ended; subscribe again".to_owned()
            }
            Self::Internal(_) => "internal server error".to_owned(),
        }
    }

    /// A deadlock or serialization failure: running the transaction again may succeed.
    pub fn is_transient_conflict(&self) -> bool {
        match self {
            Self::Internal(cause) => cause
                .downcast_ref::<DbErr>()
                .is_some_and(crate::db::is_transient_conflict),
            _ => false,
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if crate::db::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Self::Unavailable
        } else if crate::db::is_statement_timeout(&err) {
            tracing::warn!(error = %err, "statement timed out");
            Self::Timeout
        } else {
            Self::Internal(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_show_their_cause() {
        let err = AppError::from(DbErr::Custom("syntax error at or near SELECT".into()));
        assert_eq!(err.code(), ErrorCode::InternalServerError);
        assert_eq!(err.public_message(), "internal server error");
    }

    #[test]
    fn an_exhausted_or_unreachable_pool_is_service_unavailable_not_internal() {
        let err = AppError::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert_eq!(err.code(), ErrorCode::ServiceUnavailable);
        assert!(!err.public_message().contains("pool"));
        let broken = AppError::from(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
            std::sync::Arc::new(sea_orm::sqlx::Error::PoolTimedOut),
        )));
        assert_eq!(broken.code(), ErrorCode::ServiceUnavailable);
    }

    #[test]
    fn field_errors_name_their_field_in_the_public_message() {
        let err = AppError::invalid(FieldError::new("email", FieldErrorCode::Taken, "is taken"));
        assert_eq!(err.public_message(), "email: is taken");
        assert_eq!(err.code().as_str(), "BAD_USER_INPUT");
    }
}
