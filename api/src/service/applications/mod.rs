//! Applications: partners apply to programs answering their questions; vendors decide;
//! approval enrolls the partner with a tier and a referral code. Every step writes a
//! funnel event and an audit event in the transaction that makes it.
//!
//! Who sees what: a partner sees its own applications and enrollments; a vendor's team
//! sees those of its programs; platform admins see all (read-only). Anyone else gets the
//! answer a missing id gets.

mod apply;
mod decide;
mod enrollments;
mod invitations;
mod questions;
mod read;
pub(crate) use read::{scoped, visible_by_ids};

use chrono::{DateTime, Utc};
use entity::{
    application,
    application_event::{self, ApplicationEventKind},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, NotSet};

pub use apply::{AnswerInput, NewApplication, apply};
pub use decide::{BulkItem, Decision, approve, bulk_decide, reject, withdraw};
pub use enrollments::{EnrollmentChange, change_enrollment, leave};
pub use invitations::{NewInvitation, invite, revoke_invitation};
pub use questions::{QuestionSpec, questions_by_ids, questions_of, set_questions};
pub use read::{
    ApplicationFilter, ViewerRelation, application_events, applications_by_ids,
    enrollment_of_applications, enrollments_by_ids, invitations_by_ids, invitations_of,
    live_program_ids, my_applications, my_enrollments, program_applications, program_enrollments,
    viewer_relations,
};

use super::Actor;
use crate::error::AppError;

/// Longest pitch a partner may send with an application.
pub const MAX_PITCH: usize = 5_000;
/// Most applications one bulk decision may name.
pub const MAX_BULK: usize = 100;

/// Appends one funnel step.
async fn event(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    application: &application::Model,
    kind: ApplicationEventKind,
    data: Option<serde_json::Value>,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    application_event::ActiveModel {
        id: NotSet,
        application_id: Set(application.id),
        program_id: Set(application.program_id),
        partner_id: Set(application.partner_id),
        kind: Set(kind),
        actor_user_id: Set(actor.viewer.user_id()),
        join_source: Set(application.join_source),
        data: Set(data),
        created_at: Set(at),
    }
    .insert(conn)
    .await?;
    Ok(())
}
