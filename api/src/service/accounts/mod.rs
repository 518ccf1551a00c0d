//! Accounts and sessions: sign-up, log-in, refresh-token rotation, log-out.

pub mod rules;
mod sessions;

use chrono::{DateTime, Utc};
use entity::user::{self, PlatformRole};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, NotSet, QueryFilter};

pub use sessions::{log_out, refresh};

use super::{
    Actor, Services,
    events::{self, DomainEvent},
    limits,
};
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
};

pub struct SignUp {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

pub struct LogIn {
    pub email: String,
    pub password: String,
}

/// A logged-in session: the short-lived access token and the refresh token that renews it.
pub struct Session {
    pub user: user::Model,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

fn email_taken() -> AppError {
    AppError::invalid(FieldError::new(
        "email",
        FieldErrorCode::Taken,
        "is already registered",
    ))
}

#[tracing::instrument(skip_all)]
pub async fn sign_up(
    services: &Services,
    actor: &Actor,
    input: SignUp,
) -> Result<Session, AppError> {
    // Sign-ups per IP: the attempt is counted first (so parallel attempts cannot slip
    // past the limit) and given back when it created nothing.
    let limit = SignUpLimit::take(services, actor).await?;
    let registered = register(services, actor, input, PlatformRole::User, true).await;
    if registered.is_err() {
        limit.give_back(services).await?;
    }
    let (user, refresh, now) = registered?;
    let refresh =
        refresh.ok_or_else(|| AppError::internal(anyhow::anyhow!("sign-up without a session")))?;
    sessions::finish(services, user, refresh, now)
}

/// Creates an account with the given platform role, without logging it in. Used to seed
/// demo operators, who cannot sign up as admins.
pub(crate) async fn create_user(
    services: &Services,
    actor: &Actor,
    input: SignUp,
    role: PlatformRole,
) -> Result<user::Model, AppError> {
    Ok(register(services, actor, input, role, false).await?.0)
}

/// Validates, hashes and inserts the account, and with `start_session` its first refresh
/// token, all in one transaction.
async fn register(
    services: &Services,
    actor: &Actor,
    input: SignUp,
    role: PlatformRole,
    start_session: bool,
) -> Result<
    (
        user::Model,
        Option<sessions::NewRefreshToken>,
        DateTime<Utc>,
    ),
    AppError,
> {
    let mut errors = Vec::new();
    let email = rules::email(&input.email).map_err(|e| errors.push(e)).ok();
    if let Err(e) = rules::password(&input.password, email.as_deref()) {
        errors.push(e);
    }
    let display_name = rules::display_name(&input.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(email), Some(display_name), true) = (email, display_name, errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };

    // Cheap early answer; the unique index below is what actually guarantees it.
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&services.db)
        .await?
        .is_some()
    {
        return Err(email_taken());
    }
    let password_hash = services.passwords.hash(input.password).await?;

    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let user = user::ActiveModel {
        id: NotSet,
        email: Set(email),
        password_hash: Set(password_hash),
        display_name: Set(display_name),
        role: Set(role),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if db::unique_violation(&e).is_some() {
            email_taken()
        } else {
            e.into()
        }
    })?;
    let refresh = match start_session {
        true => Some(sessions::start(&txn, services, user.id, now).await?),
        false => None,
    };
    events::emit(&txn, actor, DomainEvent::UserSignedUp { user_id: user.id }).await?;
    txn.commit().await?;
    tracing::info!(user_id = user.id, "user signed up");
    Ok((user, refresh, now))
}

/// A sign-up counted against its IP's limit, until it turns out to have created nothing.
struct SignUpLimit(Option<String>);

impl SignUpLimit {
    async fn take(services: &Services, actor: &Actor) -> Result<Self, AppError> {
        let config = &services.limiter.config;
        if !config.enabled {
            return Ok(Self(None));
        }
        let key = limits::key("signup:ip", &ip_text(actor));
        limits::spend(&services.db, &key, config.signups_per_ip, 1)
            .await?
            .into_result()?;
        Ok(Self(Some(key)))
    }

    async fn give_back(self, services: &Services) -> Result<(), AppError> {
        match self.0 {
            Some(key) => {
                limits::refund(
                    &services.db,
                    &key,
                    services.limiter.config.signups_per_ip,
                    1,
                )
                .await
            }
            None => Ok(()),
        }
    }
}

fn ip_text(actor: &Actor) -> String {
    actor
        .client_ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// The log-in limits an attempt is counted against: the account (by normalised e-mail,
/// registered or not, so the answer never tells which) and the client's IP.
struct LogInLimits(Vec<(String, limits::Rule)>);

impl LogInLimits {
    /// Counts the attempt before the password is checked, so concurrent guesses cannot
    /// outrun the limit; a refused attempt checks no password at all.
    async fn take(services: &Services, actor: &Actor, email: &str) -> Result<Self, AppError> {
        let config = &services.limiter.config;
        if !config.enabled {
            return Ok(Self(Vec::new()));
        }
        let keys = vec![
            (
                limits::key("login:account", email),
                config.login_per_account,
            ),
            (
                limits::key("login:ip", &ip_text(actor)),
                config.login_per_ip,
            ),
        ];
        let mut taken: Vec<(String, limits::Rule)> = Vec::new();
        for (key, rule) in keys {
            match limits::spend(&services.db, &key, rule, 1)
                .await?
                .into_result()
            {
                Ok(_) => taken.push((key, rule)),
                Err(refused) => {
                    // Give back what this refused attempt already counted elsewhere.
                    Self(taken).succeeded(services).await?;
                    return Err(refused);
                }
            }
        }
        Ok(Self(taken))
    }

    /// Only failures count: a successful log-in gives its attempt back.
    async fn succeeded(self, services: &Services) -> Result<(), AppError> {
        for (key, rule) in self.0 {
            limits::refund(&services.db, &key, rule, 1).await?;
        }
        Ok(())
    }
}

#[tracing::instrument(skip_all)]
pub async fn log_in(services: &Services, actor: &Actor, input: LogIn) -> Result<Session, AppError> {
    let wrong = || {
        AppError::invalid(FieldError::general(
            FieldErrorCode::InvalidCredentials,
            "the e-mail address or the password is incorrect",
        ))
    };
    let email = input.email.trim().to_lowercase();
    let mut errors = Vec::new();
    if email.is_empty() {
        errors.push(FieldError::new(
            "email",
            FieldErrorCode::Required,
            "is required",
        ));
    } else if email.len() > rules::MAX_EMAIL_LEN {
        errors.push(FieldError::new(
            "email",
            FieldErrorCode::TooLong,
            "is longer than any registered address",
        ));
    }
    if input.password.is_empty() {
        errors.push(FieldError::new(
            "password",
            FieldErrorCode::Required,
            "is required",
        ));
    } else if input.password.chars().count() > rules::MAX_PASSWORD_CHARS {
        return Err(wrong());
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }

    let attempt = LogInLimits::take(services, actor, &email).await?;
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&services.db)
        .await?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    if !services.passwords.verify(input.password, stored).await? {
        return Err(wrong());
    }
    let Some(user) = found else {
        return Err(wrong());
    };
    attempt.succeeded(services).await?;

    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let refresh = sessions::start(&txn, services, user.id, now).await?;
    events::emit(&txn, actor, DomainEvent::UserLoggedIn { user_id: user.id }).await?;
    txn.commit().await?;
    sessions::finish(services, user, refresh, now)
}
