//! `applyToProgram`: checks, answers, the first decision (automatic, by eligibility
//! rules, or by invitation) and the insert that the database keeps unique.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use entity::{
    application::{self, Answer, ApplicationStatus, JoinSource, RejectionReason},
    application_event::ApplicationEventKind,
    application_question::{self, QuestionKind},
    code_list, enrollment, invitation,
    invitation::InvitationStatus,
    partner,
    program::{self, ApprovalMode, ProgramStatus, ReapplyPolicy, Visibility},
    user,
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, NotSet, QueryFilter,
    QueryOrder,
};

use super::{MAX_PITCH, enrollments, event, questions_of};
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, ApplicationFacts, DomainEvent},
        partners, programs,
        validate::{self, Problems},
        vendors,
    },
};

const MAX_SHORT_ANSWER: usize = 300;
const MAX_LONG_ANSWER: usize = 5_000;

#[derive(Debug, Clone)]
pub struct AnswerInput {
    pub question_id: i64,
    pub values: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub program_id: i64,
    pub answers: Vec<AnswerInput>,
    pub pitch: String,
    pub join_source: JoinSource,
    pub invitation_code: Option<String>,
    pub idempotency_key: Option<String>,
}

/// What happens to an application the moment it is submitted.
enum FirstDecision {
    Pending,
    Approve(&'static str),
    Reject(RejectionReason, String),
}

fn checked_answers(
    problems: &mut Problems,
    questions: &[application_question::Model],
    answers: &[AnswerInput],
) -> Vec<Answer> {
    let by_id: HashMap<i64, &application_question::Model> =
        questions.iter().map(|q| (q.id, q)).collect();
    let mut given: HashMap<i64, Vec<String>> = HashMap::new();
    for (i, a) in answers.iter().enumerate() {
        let field = format!("answers.{i}.questionId");
        if !by_id.contains_key(&a.question_id) {
            problems.push(FieldError::new(
                &field,
                FieldErrorCode::NotFound,
                "is not a question of this program",
            ));
        } else if given.insert(a.question_id, a.values.clone()).is_some() {
            problems.push(FieldError::new(
                &field,
                FieldErrorCode::Duplicate,
                "is answered twice",
            ));
        }
    }
    let position: HashMap<i64, usize> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| (a.question_id, i))
        .collect();
    let mut out = Vec::new();
    for q in questions {
        let field = position.get(&q.id).map_or_else(
            || format!("answers.question{}", q.id),
            |i| format!("answers.{i}.values"),
        );
        let values: Vec<String> = given
            .get(&q.id)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if values.is_empty() {
            if q.required {
                problems.push(FieldError::new(
                    &field,
                    FieldErrorCode::Required,
                    format!("“{}” needs an answer", q.prompt),
                ));
            }
            continue;
        }
        let options = q.option_labels();
        let ok = match q.kind {
            QuestionKind::ShortText | QuestionKind::LongText => {
                let max = if q.kind == QuestionKind::ShortText {
                    MAX_SHORT_ANSWER
                } else {
                    MAX_LONG_ANSWER
                };
                if values.len() != 1 {
                    problems.push(FieldError::new(
                        &field,
                        FieldErrorCode::Invalid,
                        "give one answer",
                    ));
                    false
                } else {
                    problems
                        .check(validate::text(&field, &values[0], 1, max))
                        .is_some()
                }
            }
            QuestionKind::Url => {
                if values.len() == 1 {
                    problems.check(validate::url(&field, &values[0])).is_some()
                } else {
                    problems.push(FieldError::new(
                        &field,
                        FieldErrorCode::Invalid,
                        "give one URL",
                    ));
                    false
                }
            }
            QuestionKind::SingleSelect | QuestionKind::MultiSelect => {
                let unknown = values.iter().find(|v| !options.contains(v));
                let distinct: HashSet<&String> = values.iter().collect();
                if let Some(v) = unknown {
                    problems.push(FieldError::new(
                        &field,
                        FieldErrorCode::Invalid,
                        format!(
                            "`{}` is not one of the options",
                            v.chars().take(100).collect::<String>()
                        ),
                    ));
                    false
                } else if q.kind == QuestionKind::SingleSelect && values.len() != 1 {
                    problems.push(FieldError::new(
                        &field,
                        FieldErrorCode::Invalid,
                        "choose exactly one option",
                    ));
                    false
                } else if distinct.len() != values.len() {
                    problems.push(FieldError::new(
                        &field,
                        FieldErrorCode::Duplicate,
                        "an option is chosen twice",
                    ));
                    false
                } else {
                    true
                }
            }
        };
        if ok {
            out.push(Answer {
                question_id: q.id,
                prompt: q.prompt.clone(),
                kind: sea_orm::ActiveEnum::to_value(&q.kind),
                values,
            });
        }
    }
    out
}

/// `RULE_BASED` programs approve partners whose types and countries they accept, and
/// reject the others with the reason that failed.
fn eligibility(program: &program::Model, partner: &partner::Model) -> FirstDecision {
    let accepted: HashSet<&str> = code_list::decode_strs(&program.partner_types).collect();
    let offered: HashSet<&str> = code_list::decode_strs(&partner.partner_types).collect();
    if !accepted.is_empty() && accepted.is_disjoint(&offered) {
        return FirstDecision::Reject(
            RejectionReason::Audience,
            "this program does not accept your kind of partnership".to_owned(),
        );
    }
    let served: HashSet<&str> = code_list::decode_strs(&program.countries).collect();
    let audience: HashSet<&str> = code_list::decode_strs(&partner.countries).collect();
    if !served.is_empty() && served.is_disjoint(&audience) {
        return FirstDecision::Reject(
            RejectionReason::Region,
            "this program does not serve the countries of your audience".to_owned(),
        );
    }
    FirstDecision::Approve("eligibility rules")
}

/// When the program reopens to this partner after a rejection or a partnership that
/// ended: `Ok(())` if it is open now.
async fn check_reapply(
    services: &Services,
    program: &program::Model,
    partner_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if program.reapply_policy == ReapplyPolicy::Instant {
        return Ok(());
    }
    let rejected = application::Entity::find()
        .filter(application::Column::ProgramId.eq(program.id))
        .filter(application::Column::PartnerId.eq(partner_id))
        .filter(application::Column::Status.eq(ApplicationStatus::Rejected))
        .order_by_desc(application::Column::DecidedAt)
        .one(&services.db)
        .await?
        .and_then(|a| a.decided_at);
    let ended = enrollment::Entity::find()
        .filter(enrollment::Column::ProgramId.eq(program.id))
        .filter(enrollment::Column::PartnerId.eq(partner_id))
        .filter(enrollment::Column::EndedAt.is_not_null())
        .order_by_desc(enrollment::Column::EndedAt)
        .one(&services.db)
        .await?
        .and_then(|e| e.ended_at);
    let Some(closed) = rejected.max(ended) else {
        return Ok(());
    };
    let locked = |message: String| {
        AppError::invalid(FieldError::new(
            "programId",
            FieldErrorCode::ReapplyLocked,
            message,
        ))
    };
    match program.reapply_policy {
        ReapplyPolicy::Instant => Ok(()),
        ReapplyPolicy::After30Days => {
            let reopens = closed + Duration::days(30);
            if now < reopens {
                Err(locked(format!(
                    "this program accepts a new application from you on {}",
                    reopens.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )))
            } else {
                Ok(())
            }
        }
        ReapplyPolicy::Never => Err(locked(
            "this program does not accept a new application from you (re-apply policy NEVER); an invitation from the vendor reopens it".to_owned(),
        )),
    }
}

/// The invitation named by `code`, if it is valid for this partner and program.
async fn valid_invitation(
    services: &Services,
    code: &str,
    program_id: i64,
    partner: &partner::Model,
    now: DateTime<Utc>,
) -> Result<invitation::Model, AppError> {
    let invalid = |message: &str| {
        AppError::invalid(FieldError::new(
            "invitationCode",
            FieldErrorCode::InvitationInvalid,
            message,
        ))
    };
    let Some(found) = invitation::Entity::find()
        .filter(invitation::Column::Code.eq(code.trim()))
        .one(&services.db)
        .await?
    else {
        return Err(invalid("no invitation has this code"));
    };
    let email = user::Entity::find_by_id(partner.user_id)
        .one(&services.db)
        .await?
        .map(|u| u.email.to_lowercase());
    let addressed =
        found.partner_id == Some(partner.id) || (found.email.is_some() && found.email == email);
    if found.program_id != program_id || !addressed {
        return Err(invalid(
            "this invitation is not for you or not for this program",
        ));
    }
    match found.status {
        InvitationStatus::Revoked => Err(invalid("this invitation was revoked")),
        InvitationStatus::Accepted => Err(invalid("this invitation was already used")),
        InvitationStatus::Pending if found.expires_at <= now => Err(invalid(&format!(
            "this invitation expired on {}",
            found
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
        InvitationStatus::Pending => Ok(found),
    }
}

async fn replay(
    services: &Services,
    partner_id: i64,
    key: &str,
    program_id: i64,
) -> Result<Option<application::Model>, AppError> {
    let found = application::Entity::find()
        .filter(application::Column::PartnerId.eq(partner_id))
        .filter(application::Column::IdempotencyKey.eq(key))
        .one(&services.db)
        .await?;
    match found {
        Some(a) if a.program_id == program_id => Ok(Some(a)),
        Some(_) => Err(AppError::invalid(FieldError::new(
            "idempotencyKey",
            FieldErrorCode::Duplicate,
            "was already used for an application to another program",
        ))),
        None => Ok(None),
    }
}

fn already_applied() -> AppError {
    AppError::invalid(FieldError::new(
        "programId",
        FieldErrorCode::AlreadyApplied,
        "you already have a pending application or a partnership with this program",
    ))
}

/// Submits an application. Returns the application as stored (approved and enrolled at
/// once when the program or an invitation says so).
///
/// With an idempotency key, concurrent retries all answer like the first: a retry that
/// finds the first one's application (committed meanwhile) replays it instead of
/// reporting it as a second application.
#[tracing::instrument(skip_all, fields(program_id = input.program_id))]
pub async fn apply(
    services: &Services,
    actor: &Actor,
    input: NewApplication,
) -> Result<application::Model, AppError> {
    let program_id = input.program_id;
    let key = input.idempotency_key.clone();
    let result = db::retrying(|| apply_once(services, actor, input.clone())).await;
    match (result, key) {
        (Err(e), Some(key)) if is_already_applied(&e) => {
            let partner = partners::require_mine(services, actor, "partnerProfile").await?;
            match replay(services, partner.id, key.trim(), program_id).await? {
                Some(first) => Ok(first),
                None => Err(e),
            }
        }
        (result, _) => result,
    }
}

fn is_already_applied(err: &AppError) -> bool {
    matches!(err, AppError::Invalid(errors) if errors.iter().any(|e| e.code == FieldErrorCode::AlreadyApplied))
}

async fn apply_once(
    services: &Services,
    actor: &Actor,
    input: NewApplication,
) -> Result<application::Model, AppError> {
    actor.viewer.require_user()?;
    let partner = partners::require_mine(services, actor, "partnerProfile").await?;
    let key = match input.idempotency_key.as_deref().map(str::trim) {
        Some(k) if k.is_empty() || k.len() > 100 => {
            return Err(AppError::invalid(FieldError::new(
                "idempotencyKey",
                FieldErrorCode::OutOfRange,
                "must be 1 to 100 characters",
            )));
        }
        Some(k) => Some(k.to_owned()),
        None => None,
    };
    if let Some(key) = &key
        && let Some(first) = replay(services, partner.id, key, input.program_id).await?
    {
        return Ok(first);
    }
    let now = crate::service::now();
    // Drafts are answered like a missing id to outsiders; paused and archived programs,
    // which were public, get a user error saying so.
    let program = programs::records_by_ids(services, &[input.program_id])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?
        .program;
    if program.status == ProgramStatus::Draft
        && vendors::role_of(&services.db, &actor.viewer, program.vendor_id)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound);
    }
    if program.status != ProgramStatus::Published {
        return Err(AppError::invalid(FieldError::new(
            "programId",
            FieldErrorCode::NotAccepting,
            "this program is not accepting applications right now",
        )));
    }
    let invitation = match input
        .invitation_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        Some(code) => Some(valid_invitation(services, code, program.id, &partner, now).await?),
        None => None,
    };
    if program.visibility == Visibility::InviteOnly && invitation.is_none() {
        return Err(AppError::invalid(FieldError::new(
            "invitationCode",
            FieldErrorCode::InvitationRequired,
            "this program is invite-only: apply with the code of your invitation",
        )));
    }
    let live = application::Entity::find()
        .filter(application::Column::ProgramId.eq(program.id))
        .filter(application::Column::PartnerId.eq(partner.id))
        .filter(application::Column::Live.eq(true))
        .one(&services.db)
        .await?;
    if live.is_some() {
        return Err(already_applied());
    }
    if invitation.is_none() {
        check_reapply(services, &program, partner.id, now).await?;
    }
    let questions = questions_of(services, &[program.id])
        .await?
        .remove(&program.id)
        .unwrap_or_default();
    let mut problems = Problems::default();
    let answers = checked_answers(&mut problems, &questions, &input.answers);
    let pitch = problems.check(validate::text("pitch", &input.pitch, 0, MAX_PITCH));
    let (Some(pitch), true) = (pitch, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };

    let decision = if invitation.is_some() {
        FirstDecision::Approve("invitation")
    } else {
        match program.approval_mode {
            ApprovalMode::Manual => FirstDecision::Pending,
            ApprovalMode::Automatic => FirstDecision::Approve("automatic approval"),
            ApprovalMode::RuleBased => eligibility(&program, &partner),
        }
    };
    let join_source = if invitation.is_some() {
        JoinSource::Invitation
    } else {
        input.join_source
    };
    let (status, decided_at, reason, note) = match &decision {
        FirstDecision::Pending => (ApplicationStatus::Pending, None, None, None),
        FirstDecision::Approve(_) => (ApplicationStatus::Approved, Some(now), None, None),
        FirstDecision::Reject(reason, note) => (
            ApplicationStatus::Rejected,
            Some(now),
            Some(*reason),
            Some(note.clone()),
        ),
    };

    let txn = db::begin_program_write(&services.db, program.id).await?;
    let inserted = application::ActiveModel {
        id: NotSet,
        program_id: Set(program.id),
        partner_id: Set(partner.id),
        status: Set(status),
        live: Set(status != ApplicationStatus::Rejected),
        answers: Set(serde_json::to_value(&answers).map_err(AppError::internal)?),
        pitch: Set(pitch),
        join_source: Set(join_source),
        invitation_id: Set(invitation.as_ref().map(|i| i.id)),
        idempotency_key: Set(key.clone()),
        decided_by_user_id: Set(None),
        decided_at: Set(decided_at),
        rejection_reason: Set(reason),
        rejection_note: Set(note),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        Err(e) => {
            let Some(what) = db::unique_violation(&e) else {
                return Err(e.into());
            };
            drop(txn);
            // A concurrent twin won. The same idempotency key replays its answer.
            if what.contains("idempotency")
                && let Some(key) = &key
                && let Some(first) = replay(services, partner.id, key, program.id).await?
            {
                return Ok(first);
            }
            return Err(already_applied());
        }
    };
    event(
        &txn,
        actor,
        &created,
        ApplicationEventKind::Submitted,
        None,
        now,
    )
    .await?;
    // As it stands now (decided, when a rule decided it), and as it was submitted.
    let facts = events::application_facts(&created, program.vendor_id);
    let submitted = ApplicationFacts {
        status: ApplicationStatus::Pending.to_value(),
        rejection_reason: None,
        rejection_note: None,
        ..facts.clone()
    };
    events::emit(&txn, actor, DomainEvent::ApplicationSubmitted(submitted)).await?;
    let system = Actor::new(crate::auth::Viewer::Anonymous, actor.request_id.clone());
    // A pending application moves none of the program's figures (they count decisions
    // and partnerships): only a first decision made here refreshes them.
    let decided_now = !matches!(decision, FirstDecision::Pending);
    match decision {
        FirstDecision::Pending => {}
        FirstDecision::Approve(by) => {
            let data = serde_json::json!({ "by": by });
            event(
                &txn,
                &system,
                &created,
                ApplicationEventKind::Approved,
                Some(data.clone()),
                now,
            )
            .await?;
            events::emit(
                &txn,
                &system,
                DomainEvent::ApplicationApproved(facts.clone().decided_by(by)),
            )
            .await?;
            enrollments::enroll(&txn, &system, &created, &program, None, now).await?;
            if let Some(invitation) = &invitation {
                invitation::Entity::update_many()
                    .col_expr(
                        invitation::Column::Status,
                        sea_orm::sea_query::Expr::value(InvitationStatus::Accepted),
                    )
                    .col_expr(
                        invitation::Column::UpdatedAt,
                        sea_orm::sea_query::Expr::value(now),
                    )
                    .filter(invitation::Column::Id.eq(invitation.id))
                    .exec(&txn)
                    .await?;
            }
        }
        FirstDecision::Reject(reason, _) => {
            let data =
                serde_json::json!({ "by": "eligibility rules", "reason": format!("{reason:?}") });
            event(
                &txn,
                &system,
                &created,
                ApplicationEventKind::Rejected,
                Some(data.clone()),
                now,
            )
            .await?;
            events::emit(
                &txn,
                &system,
                DomainEvent::ApplicationRejected(facts.clone().decided_by("eligibility rules")),
            )
            .await?;
        }
    }
    if decided_now {
        crate::service::stats::refresh(&txn, program.id, now).await?;
    }
    txn.commit().await?;
    Ok(created)
}
