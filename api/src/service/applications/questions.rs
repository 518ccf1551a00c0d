//! The questions a program asks applicants. Replacing them retires the old ones: answers
//! already submitted keep the prompt they answered.

use std::collections::{HashMap, HashSet};

use entity::application_question::{self, QuestionKind};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, NotSet, QueryFilter, QueryOrder, sea_query::Expr,
};

use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, DomainEvent, ProgramFacts},
        programs,
        validate::{self, Problems},
        vendors,
    },
};

pub const MAX_QUESTIONS: usize = 30;
const MAX_OPTIONS: usize = 50;

#[derive(Debug, Clone)]
pub struct QuestionSpec {
    pub prompt: String,
    pub kind: QuestionKind,
    pub options: Vec<String>,
    pub required: bool,
}

fn is_select(kind: QuestionKind) -> bool {
    matches!(kind, QuestionKind::SingleSelect | QuestionKind::MultiSelect)
}

fn check(problems: &mut Problems, questions: &[QuestionSpec]) -> Vec<QuestionSpec> {
    if questions.len() > MAX_QUESTIONS {
        problems.push(FieldError::new(
            "questions",
            FieldErrorCode::TooLong,
            format!("at most {MAX_QUESTIONS} questions"),
        ));
    }
    let mut checked = Vec::new();
    let mut prompts = HashSet::new();
    for (i, q) in questions.iter().enumerate() {
        let field = |name: &str| format!("questions.{i}.{name}");
        let prompt = problems.check(validate::text(&field("prompt"), &q.prompt, 1, 300));
        if let Some(p) = &prompt
            && !prompts.insert(p.to_lowercase())
        {
            problems.push(FieldError::new(
                &field("prompt"),
                FieldErrorCode::Duplicate,
                "the same question is asked twice",
            ));
        }
        let mut options = Vec::new();
        if is_select(q.kind) {
            if !(2..=MAX_OPTIONS).contains(&q.options.len()) {
                problems.push(FieldError::new(
                    &field("options"),
                    FieldErrorCode::OutOfRange,
                    format!("a select question needs 2 to {MAX_OPTIONS} options"),
                ));
            }
            let mut seen = HashSet::new();
            for (j, o) in q.options.iter().enumerate() {
                let path = format!("questions.{i}.options.{j}");
                if let Some(o) = problems.check(validate::text(&path, o, 1, 100)) {
                    if seen.insert(o.to_lowercase()) {
                        options.push(o);
                    } else {
                        problems.push(FieldError::new(
                            &path,
                            FieldErrorCode::Duplicate,
                            "the same option is listed twice",
                        ));
                    }
                }
            }
        } else if !q.options.is_empty() {
            problems.push(FieldError::new(
                &field("options"),
                FieldErrorCode::Invalid,
                "only select questions have options",
            ));
        }
        if let Some(prompt) = prompt {
            checked.push(QuestionSpec {
                prompt,
                kind: q.kind,
                options,
                required: q.required,
            });
        }
    }
    checked
}

/// Replaces the program's questions (`OWNER` or `ADMIN` of its vendor).
#[tracing::instrument(skip_all, fields(program_id))]
pub async fn set_questions(
    services: &Services,
    actor: &Actor,
    program_id: i64,
    questions: Vec<QuestionSpec>,
) -> Result<Vec<application_question::Model>, AppError> {
    actor.viewer.require_user()?;
    let program = programs::find(services, &actor.viewer, program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, program.program.vendor_id).await?;
    let mut problems = Problems::default();
    let checked = check(&mut problems, &questions);
    problems.into_result()?;
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    application_question::Entity::update_many()
        .col_expr(application_question::Column::RetiredAt, Expr::value(now))
        .filter(application_question::Column::ProgramId.eq(program_id))
        .filter(application_question::Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    if !checked.is_empty() {
        let rows =
            checked
                .iter()
                .enumerate()
                .map(|(position, q)| application_question::ActiveModel {
                    id: NotSet,
                    program_id: Set(program_id),
                    prompt: Set(q.prompt.clone()),
                    kind: Set(q.kind),
                    options: Set(serde_json::json!(q.options)),
                    required: Set(q.required),
                    position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                    created_at: Set(now),
                    retired_at: Set(None),
                });
        application_question::Entity::insert_many(rows)
            .exec(&txn)
            .await?;
    }
    events::emit(
        &txn,
        actor,
        DomainEvent::ProgramQuestionsChanged {
            facts: ProgramFacts::of(&program.program),
            questions: checked.len(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(questions_of(services, &[program_id])
        .await?
        .remove(&program_id)
        .unwrap_or_default())
}

/// The active questions of each program, in order.
pub async fn questions_of(
    services: &Services,
    program_ids: &[i64],
) -> Result<HashMap<i64, Vec<application_question::Model>>, AppError> {
    let mut by_program: HashMap<i64, Vec<application_question::Model>> = HashMap::new();
    if program_ids.is_empty() {
        return Ok(by_program);
    }
    for q in application_question::Entity::find()
        .filter(application_question::Column::ProgramId.is_in(program_ids.iter().copied()))
        .filter(application_question::Column::RetiredAt.is_null())
        .order_by_asc(application_question::Column::Position)
        .all(&services.db)
        .await?
    {
        by_program.entry(q.program_id).or_default().push(q);
    }
    Ok(by_program)
}

/// Questions by id (active or retired), if the viewer may see their program.
pub async fn questions_by_ids(
    services: &Services,
    viewer: &crate::auth::Viewer,
    ids: &[i64],
) -> Result<Vec<application_question::Model>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = application_question::Entity::find()
        .filter(application_question::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?;
    let program_ids: Vec<i64> = rows.iter().map(|q| q.program_id).collect();
    let visible: HashSet<i64> = programs::find_many(services, viewer, &program_ids)
        .await?
        .into_iter()
        .map(|p| p.program.id)
        .collect();
    Ok(rows
        .into_iter()
        .filter(|q| visible.contains(&q.program_id))
        .collect())
}
