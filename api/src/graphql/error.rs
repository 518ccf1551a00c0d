//! From [`AppError`] to GraphQL: top-level errors with `extensions.code`, and the
//! `userErrors` list of mutation payloads.

use async_graphql::{Enum, ErrorExtensions, SimpleObject};

use crate::error::{AppError, FieldError};

/// Converts service results into GraphQL results that carry the stable error code.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql)
    }
}

/// The one place an [`AppError`] becomes a GraphQL error. Internal causes are logged here
/// (inside the request's span, so with its request id) and replaced by a fixed text.
pub fn to_graphql(err: AppError) -> async_graphql::Error {
    to_graphql_ref(&err)
}

/// [`to_graphql`] for errors shared between waiters (DataLoader errors are `Arc`ed).
pub fn to_graphql_ref(err: &AppError) -> async_graphql::Error {
    match err {
        AppError::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
        AppError::SearchUnavailable(cause) => tracing::warn!(cause, "search unavailable"),
        _ => {}
    }
    let code = err.code().as_str();
    let retry_after = match err {
        AppError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
        _ => None,
    };
    async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
        ext.set("code", code);
        if let Some(secs) = retry_after {
            ext.set("retryAfterSeconds", secs);
        }
    })
}

/// A DataLoader's shared error, as a GraphQL error with its code.
pub fn loader_error(e: std::sync::Arc<AppError>) -> async_graphql::Error {
    to_graphql_ref(&e)
}

/// Why an input was refused; one entry per problem.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::error::FieldErrorCode")]
pub enum UserErrorCode {
    /// The field is required and was empty.
    Required,
    /// The value is malformed or not allowed.
    Invalid,
    TooShort,
    TooLong,
    /// The password is too easy to guess.
    TooCommon,
    /// The value must be unique and is already in use.
    Taken,
    /// The e-mail address or password is wrong (deliberately not saying which).
    InvalidCredentials,
    /// A number outside its allowed range.
    OutOfRange,
    /// The same value twice where values must be distinct.
    Duplicate,
    /// The object changed since the client read it: reload and retry.
    Conflict,
    /// The requested status change is not allowed from the current status.
    InvalidTransition,
    /// The change would leave the vendor without an owner.
    LastOwner,
    /// A referenced object (user, category, tier) does not exist.
    NotFound,
    /// The user is already a member of this team.
    AlreadyMember,
    /// A live application or partnership for this program already exists.
    AlreadyApplied,
    /// The program does not accept applications in its current status.
    NotAccepting,
    /// The program is invite-only: apply with a valid invitation code.
    InvitationRequired,
    /// The invitation is expired, revoked, already used, or meant for someone else.
    InvitationInvalid,
    /// The program's re-apply policy keeps it closed for now (the message says until when).
    ReapplyLocked,
    /// The program pays nothing for this event: it has no commission rule for it.
    NoCommissionRule,
}

/// A problem with the mutation input that the user can fix.
#[derive(SimpleObject, Debug)]
pub struct UserError {
    /// Dotted path of the offending field inside `input`, or null for the whole input.
    pub field: Option<String>,
    pub code: UserErrorCode,
    /// Human-readable, safe to show.
    pub message: String,
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            code: e.code.into(),
            message: e.message,
        }
    }
}

/// Splits a service result for a mutation payload: user-fixable problems become
/// `userErrors`; everything else stays a top-level error.
pub fn payload<T>(
    result: Result<T, AppError>,
) -> async_graphql::Result<(Option<T>, Vec<UserError>)> {
    match result {
        Ok(value) => Ok((Some(value), Vec::new())),
        Err(AppError::Invalid(errors)) => {
            Ok((None, errors.into_iter().map(UserError::from).collect()))
        }
        Err(other) => Err(to_graphql(other)),
    }
}
