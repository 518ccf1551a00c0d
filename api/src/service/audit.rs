//! The audit trail: one append-only row per consequential action, written in the same
//! transaction as the action itself.

use entity::audit_event;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, NotSet};

use super::Actor;
use crate::error::AppError;

/// What happened to which object.
pub struct Event {
    action: &'static str,
    subject_type: &'static str,
    subject_id: Option<i64>,
    actor_user_id: Option<i64>,
    data: Option<serde_json::Value>,
}

impl Event {
    /// `action` is a dotted verb (`program.published`).
    pub fn new(action: &'static str, subject_type: &'static str, subject_id: i64) -> Self {
        Self {
            action,
            subject_type,
            subject_id: Some(subject_id),
            actor_user_id: None,
            data: None,
        }
    }

    /// An action on something without a numeric id (reference data keyed by code; the
    /// code goes in the data).
    pub fn unnumbered(action: &'static str, subject_type: &'static str) -> Self {
        Self {
            subject_id: None,
            ..Self::new(action, subject_type, 0)
        }
    }

    /// The user who acted, when the request's viewer is not (yet) them: sign-up, log-in.
    pub fn by(mut self, user_id: i64) -> Self {
        self.actor_user_id = Some(user_id);
        self
    }

    pub fn with(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    event: Event,
) -> Result<(), AppError> {
    audit_event::ActiveModel {
        id: NotSet,
        actor_user_id: Set(event.actor_user_id.or(actor.viewer.user_id())),
        action: Set(event.action.to_owned()),
        subject_type: Set(event.subject_type.to_owned()),
        subject_id: Set(event.subject_id),
        request_id: Set(actor.request_id.clone()),
        data: Set(event.data),
        created_at: Set(crate::service::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}
