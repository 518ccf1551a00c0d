//! Partner profiles, application forms, applications, decisions, enrollments and
//! invitations over GraphQL. Resolvers decode IDs, call one service function and convert.

mod types;

use async_graphql::{
    Context, ID, InputObject, MaybeUndefined, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
pub use types::{
    Application, ApplicationQuestion, ApplicationStatus, Enrollment, EnrollmentStatus, Invitation,
    JoinSource, Partner, PromotionChannel, QuestionKind, RejectionReason,
};

use super::{
    GqlResultExt,
    connection::{connection, page_cost, page_request},
    context::ContextExt,
    error::{UserError, payload},
    input::{list, patch},
    programs::PartnerType,
    relay::{self, NodeType},
};
use crate::{
    error::AppError,
    service::{
        applications::{
            self, AnswerInput, ApplicationFilter, Decision, EnrollmentChange, NewApplication,
            NewInvitation, QuestionSpec,
        },
        partners::{self, Profile, ProfilePatch},
    },
};

fn ids_of(ids: &[ID], kind: NodeType) -> Result<Vec<i64>, AppError> {
    ids.iter().map(|id| relay::decode_as(id, kind)).collect()
}

// ---- inputs ---------------------------------------------------------------------------

#[derive(InputObject)]
pub struct CreatePartnerProfileInput {
    /// Lower-case letters, digits and dashes; unique.
    pub slug: String,
    pub display_name: String,
    /// The kinds of partnership you offer (at least one).
    pub partner_types: Vec<PartnerType>,
    pub website: Option<String>,
    pub audience_description: Option<String>,
    pub audience_size: Option<i64>,
    /// ISO 3166-1 alpha-2 codes of your audience's countries.
    #[graphql(default)]
    pub countries: Vec<String>,
    /// ISO 639-1 codes.
    #[graphql(default)]
    pub languages: Vec<String>,
    #[graphql(default)]
    pub channels: Vec<PromotionChannel>,
}

/// Fields left out keep their value; `null` clears a nullable one.
#[derive(InputObject)]
pub struct UpdatePartnerProfileInput {
    pub expected_version: i32,
    pub slug: Option<String>,
    pub display_name: Option<String>,
    pub partner_types: Option<Vec<PartnerType>>,
    pub website: MaybeUndefined<String>,
    pub audience_description: Option<String>,
    pub audience_size: MaybeUndefined<i64>,
    pub countries: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub channels: Option<Vec<PromotionChannel>>,
}

#[derive(InputObject)]
pub struct ApplicationQuestionInput {
    /// Up to 300 characters.
    pub prompt: String,
    pub kind: QuestionKind,
    /// 2–50 choices, for select questions only.
    #[graphql(default)]
    pub options: Vec<String>,
    #[graphql(default)]
    pub required: bool,
}

#[derive(InputObject)]
pub struct SetApplicationQuestionsInput {
    pub program_id: ID,
    /// The whole form, in order (at most 30). Replaces the current questions; answers
    /// already submitted keep the prompts they answered.
    pub questions: Vec<ApplicationQuestionInput>,
}

#[derive(InputObject)]
pub struct AnswerInputObject {
    pub question_id: ID,
    /// One value for text, URL and single-select questions; any number of options for
    /// multi-select.
    pub values: Vec<String>,
}

#[derive(InputObject)]
pub struct ApplyToProgramInput {
    pub program_id: ID,
    #[graphql(default)]
    pub answers: Vec<AnswerInputObject>,
    /// Why you are a good fit (up to 5,000 characters).
    #[graphql(default)]
    pub pitch: String,
    /// Where you found the program.
    pub join_source: JoinSource,
    /// The code of an invitation: approves at once, and is needed for invite-only
    /// programs.
    pub invitation_code: Option<String>,
    /// Retrying with the same key returns the first answer instead of a duplicate.
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct WithdrawApplicationInput {
    pub application_id: ID,
}

#[derive(InputObject)]
pub struct ApproveApplicationInput {
    pub application_id: ID,
    /// The tier to enroll the partner in; the program's default tier if omitted.
    pub tier_id: Option<ID>,
    /// The `version` you reviewed; a newer one answers `CONFLICT`.
    pub expected_version: Option<i32>,
}

#[derive(InputObject)]
pub struct RejectApplicationInput {
    pub application_id: ID,
    /// Required.
    pub reason: Option<RejectionReason>,
    /// Shown to the partner; required when the reason is `OTHER`.
    pub note: Option<String>,
    pub expected_version: Option<i32>,
}

#[derive(InputObject)]
pub struct BulkApproveApplicationsInput {
    /// 1–100 applications.
    pub application_ids: Vec<ID>,
    pub tier_id: Option<ID>,
}

#[derive(InputObject)]
pub struct BulkRejectApplicationsInput {
    /// 1–100 applications.
    pub application_ids: Vec<ID>,
    pub reason: Option<RejectionReason>,
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct LeaveProgramInput {
    pub enrollment_id: ID,
    /// Why you leave (shared with the vendor).
    pub reason: String,
}

#[derive(InputObject)]
pub struct EnrollmentActionInput {
    pub enrollment_id: ID,
    /// Required to terminate.
    pub reason: Option<String>,
}

#[derive(InputObject)]
pub struct InvitePartnerInput {
    pub program_id: ID,
    /// Either an e-mail address …
    pub email: Option<String>,
    /// … or the slug of a partner profile.
    pub partner_slug: Option<String>,
    pub message: Option<String>,
    /// 1–365, default 30.
    pub expires_in_days: Option<i32>,
}

#[derive(InputObject)]
pub struct RevokeInvitationInput {
    pub invitation_id: ID,
}

// ---- payloads -------------------------------------------------------------------------

#[derive(SimpleObject)]
pub struct PartnerProfilePayload {
    pub partner: Option<Partner>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct SetApplicationQuestionsPayload {
    pub questions: Option<Vec<ApplicationQuestion>>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ApplicationPayload {
    pub application: Option<Application>,
    pub user_errors: Vec<UserError>,
}

/// The outcome for one application of a bulk decision.
#[derive(SimpleObject)]
pub struct BulkDecisionResult {
    pub application_id: ID,
    /// The application after the decision, when it succeeded.
    pub application: Option<Application>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct BulkDecisionPayload {
    /// One entry per requested application, in order; empty when the request as a whole
    /// was refused (see `userErrors`).
    pub results: Vec<BulkDecisionResult>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct EnrollmentPayload {
    pub enrollment: Option<Enrollment>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct InvitationPayload {
    pub invitation: Option<Invitation>,
    pub user_errors: Vec<UserError>,
}

fn application_payload(
    result: Result<entity::application::Model, AppError>,
) -> async_graphql::Result<ApplicationPayload> {
    let (application, user_errors) = payload(result)?;
    Ok(ApplicationPayload {
        application: application.map(Application),
        user_errors,
    })
}

fn enrollment_payload(
    result: Result<entity::enrollment::Model, AppError>,
) -> async_graphql::Result<EnrollmentPayload> {
    let (enrollment, user_errors) = payload(result)?;
    Ok(EnrollmentPayload {
        enrollment: enrollment.map(Enrollment),
        user_errors,
    })
}

fn invitation_payload(
    result: Result<entity::invitation::Model, AppError>,
) -> async_graphql::Result<InvitationPayload> {
    let (invitation, user_errors) = payload(result)?;
    Ok(InvitationPayload {
        invitation: invitation.map(Invitation),
        user_errors,
    })
}

fn partner_payload(
    result: Result<entity::partner::Model, AppError>,
) -> async_graphql::Result<PartnerProfilePayload> {
    let (partner, user_errors) = payload(result)?;
    Ok(PartnerProfilePayload {
        partner: partner.map(Partner),
        user_errors,
    })
}

// ---- queries --------------------------------------------------------------------------

pub type ApplicationConnection = Connection<String, Application, EmptyFields, EmptyFields>;
pub type EnrollmentConnection = Connection<String, Enrollment, EmptyFields, EmptyFields>;
pub type InvitationConnection = Connection<String, Invitation, EmptyFields, EmptyFields>;

#[derive(Default)]
pub struct ApplicationQuery;

#[Object]
impl ApplicationQuery {
    /// Your partner profile, if you made one.
    async fn my_partner_profile(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Partner>> {
        let actor = ctx.actor()?;
        Ok(partners::mine(ctx.services(), &actor.viewer)
            .await
            .gql()?
            .map(Partner))
    }

    /// Your applications, newest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn my_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] statuses: Vec<ApplicationStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ApplicationConnection> {
        let actor = ctx.actor()?;
        let filter = ApplicationFilter {
            statuses: list(statuses),
        };
        let page = applications::my_applications(
            ctx.services(),
            &actor.viewer,
            &filter,
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, Application))
    }

    /// Your partnerships, most recently joined first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn my_enrollments(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] statuses: Vec<EnrollmentStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<EnrollmentConnection> {
        let actor = ctx.actor()?;
        let page = applications::my_enrollments(
            ctx.services(),
            &actor.viewer,
            &list(statuses),
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, Enrollment))
    }

    /// A program's applications as a review queue, oldest first (the vendor's team).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        #[graphql(default)] statuses: Vec<ApplicationStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ApplicationConnection> {
        let actor = ctx.actor()?;
        let program_id = relay::decode_as(&program_id, NodeType::Program).gql()?;
        let filter = ApplicationFilter {
            statuses: list(statuses),
        };
        let page = applications::program_applications(
            ctx.services(),
            &actor.viewer,
            program_id,
            &filter,
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, Application))
    }

    /// A program's partners, most recently joined first (the vendor's team).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn enrollments(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        #[graphql(default)] statuses: Vec<EnrollmentStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<EnrollmentConnection> {
        let actor = ctx.actor()?;
        let program_id = relay::decode_as(&program_id, NodeType::Program).gql()?;
        let page = applications::program_enrollments(
            ctx.services(),
            &actor.viewer,
            program_id,
            &list(statuses),
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, Enrollment))
    }

    /// A program's invitations, newest first (the vendor's team).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<InvitationConnection> {
        let actor = ctx.actor()?;
        let program_id = relay::decode_as(&program_id, NodeType::Program).gql()?;
        let page = applications::invitations_of(
            ctx.services(),
            &actor.viewer,
            program_id,
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, Invitation))
    }
}

// ---- mutations ------------------------------------------------------------------------

#[derive(Default)]
pub struct ApplicationMutation;

async fn change(
    ctx: &Context<'_>,
    input: EnrollmentActionInput,
    change: EnrollmentChange,
) -> async_graphql::Result<EnrollmentPayload> {
    let actor = ctx.actor()?;
    let id = relay::decode_as(&input.enrollment_id, NodeType::Enrollment).gql()?;
    enrollment_payload(
        applications::change_enrollment(
            ctx.services(),
            &actor,
            id,
            change,
            input.reason.as_deref(),
        )
        .await,
    )
}

async fn bulk(
    ctx: &Context<'_>,
    ids: &[ID],
    decision: Decision,
) -> async_graphql::Result<BulkDecisionPayload> {
    let actor = ctx.actor()?;
    let ids = ids_of(ids, NodeType::Application).gql()?;
    let (results, user_errors) =
        payload(applications::bulk_decide(ctx.services(), &actor, &ids, decision).await)?;
    let results = results
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let (application, user_errors) = payload(item.result)?;
            Ok(BulkDecisionResult {
                application_id: relay::encode(NodeType::Application, item.application_id),
                application: application.map(Application),
                user_errors,
            })
        })
        .collect::<async_graphql::Result<Vec<_>>>()?;
    Ok(BulkDecisionPayload {
        results,
        user_errors,
    })
}

#[Object]
impl ApplicationMutation {
    /// Creates your partner profile (one per account), reused for every application.
    async fn create_partner_profile(
        &self,
        ctx: &Context<'_>,
        input: CreatePartnerProfileInput,
    ) -> async_graphql::Result<PartnerProfilePayload> {
        let actor = ctx.actor()?;
        let profile = Profile {
            display_name: input.display_name,
            partner_types: list(input.partner_types),
            website: input.website,
            audience_description: input.audience_description.unwrap_or_default(),
            audience_size: input.audience_size,
            countries: input.countries,
            languages: input.languages,
            channels: list(input.channels),
        };
        partner_payload(partners::create(ctx.services(), &actor, &input.slug, profile).await)
    }

    /// Changes your partner profile.
    async fn update_partner_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdatePartnerProfileInput,
    ) -> async_graphql::Result<PartnerProfilePayload> {
        let actor = ctx.actor()?;
        let changes = ProfilePatch {
            slug: input.slug,
            display_name: input.display_name,
            partner_types: input.partner_types.map(list),
            website: patch(input.website),
            audience_description: input.audience_description,
            audience_size: patch(input.audience_size),
            countries: input.countries,
            languages: input.languages,
            channels: input.channels.map(list),
        };
        partner_payload(
            partners::update(ctx.services(), &actor, input.expected_version, changes).await,
        )
    }

    /// Replaces a program's application form (`OWNER` or `ADMIN`).
    async fn set_application_questions(
        &self,
        ctx: &Context<'_>,
        input: SetApplicationQuestionsInput,
    ) -> async_graphql::Result<SetApplicationQuestionsPayload> {
        let actor = ctx.actor()?;
        let program_id = relay::decode_as(&input.program_id, NodeType::Program).gql()?;
        let questions = input
            .questions
            .into_iter()
            .map(|q| QuestionSpec {
                prompt: q.prompt,
                kind: q.kind.into(),
                options: q.options,
                required: q.required,
            })
            .collect();
        let (questions, user_errors) = payload(
            applications::set_questions(ctx.services(), &actor, program_id, questions).await,
        )?;
        Ok(SetApplicationQuestionsPayload {
            questions: questions.map(|qs| qs.into_iter().map(ApplicationQuestion).collect()),
            user_errors,
        })
    }

    /// Applies to a published program with your partner profile. `MANUAL` programs put
    /// the application in the review queue; `AUTOMATIC` ones and invitations approve and
    /// enroll at once; `RULE_BASED` ones approve partners whose types and countries they
    /// accept and reject the others with the reason.
    async fn apply_to_program(
        &self,
        ctx: &Context<'_>,
        input: ApplyToProgramInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let actor = ctx.actor()?;
        let program_id = relay::decode_as(&input.program_id, NodeType::Program).gql()?;
        let answers = input
            .answers
            .into_iter()
            .map(|a| {
                Ok(AnswerInput {
                    question_id: relay::decode_as(&a.question_id, NodeType::ApplicationQuestion)?,
                    values: a.values,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()
            .gql()?;
        let new = NewApplication {
            program_id,
            answers,
            pitch: input.pitch,
            join_source: input.join_source.into(),
            invitation_code: input.invitation_code,
            idempotency_key: input.idempotency_key,
        };
        application_payload(applications::apply(ctx.services(), &actor, new).await)
    }

    /// Withdraws your pending application.
    async fn withdraw_application(
        &self,
        ctx: &Context<'_>,
        input: WithdrawApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.application_id, NodeType::Application).gql()?;
        application_payload(applications::withdraw(ctx.services(), &actor, id).await)
    }

    /// Approves a pending application and enrolls the partner (`OWNER` or `ADMIN`).
    async fn approve_application(
        &self,
        ctx: &Context<'_>,
        input: ApproveApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.application_id, NodeType::Application).gql()?;
        let tier_id = input
            .tier_id
            .as_ref()
            .map(|t| relay::decode_as(t, NodeType::ProgramTier))
            .transpose()
            .gql()?;
        application_payload(
            applications::approve(ctx.services(), &actor, id, tier_id, input.expected_version)
                .await,
        )
    }

    /// Rejects a pending application with a reason (`OWNER` or `ADMIN`).
    async fn reject_application(
        &self,
        ctx: &Context<'_>,
        input: RejectApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.application_id, NodeType::Application).gql()?;
        application_payload(
            applications::reject(
                ctx.services(),
                &actor,
                id,
                input.reason.map(Into::into),
                input.note,
                input.expected_version,
            )
            .await,
        )
    }

    /// Approves up to 100 applications. If you may not decide every one of them, nothing
    /// changes; otherwise each gets its own result.
    async fn bulk_approve_applications(
        &self,
        ctx: &Context<'_>,
        input: BulkApproveApplicationsInput,
    ) -> async_graphql::Result<BulkDecisionPayload> {
        let tier_id = input
            .tier_id
            .as_ref()
            .map(|t| relay::decode_as(t, NodeType::ProgramTier))
            .transpose()
            .gql()?;
        bulk(ctx, &input.application_ids, Decision::Approve { tier_id }).await
    }

    /// Rejects up to 100 applications with one reason and note.
    async fn bulk_reject_applications(
        &self,
        ctx: &Context<'_>,
        input: BulkRejectApplicationsInput,
    ) -> async_graphql::Result<BulkDecisionPayload> {
        let decision = Decision::Reject {
            reason: input.reason.map(Into::into),
            note: input.note,
        };
        bulk(ctx, &input.application_ids, decision).await
    }

    /// Leaves a program you are enrolled in.
    async fn leave_program(
        &self,
        ctx: &Context<'_>,
        input: LeaveProgramInput,
    ) -> async_graphql::Result<EnrollmentPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.enrollment_id, NodeType::Enrollment).gql()?;
        enrollment_payload(applications::leave(ctx.services(), &actor, id, &input.reason).await)
    }

    /// `ACTIVE` → `SUSPENDED` (`OWNER` or `ADMIN`).
    async fn suspend_enrollment(
        &self,
        ctx: &Context<'_>,
        input: EnrollmentActionInput,
    ) -> async_graphql::Result<EnrollmentPayload> {
        change(ctx, input, EnrollmentChange::Suspend).await
    }

    /// `SUSPENDED` → `ACTIVE` (`OWNER` or `ADMIN`).
    async fn reinstate_enrollment(
        &self,
        ctx: &Context<'_>,
        input: EnrollmentActionInput,
    ) -> async_graphql::Result<EnrollmentPayload> {
        change(ctx, input, EnrollmentChange::Reinstate).await
    }

    /// Ends a partnership for good, with a reason (`OWNER` or `ADMIN`).
    async fn terminate_enrollment(
        &self,
        ctx: &Context<'_>,
        input: EnrollmentActionInput,
    ) -> async_graphql::Result<EnrollmentPayload> {
        change(ctx, input, EnrollmentChange::Terminate).await
    }

    /// Invites a partner, by e-mail or partner slug (`OWNER` or `ADMIN`).
    async fn invite_partner(
        &self,
        ctx: &Context<'_>,
        input: InvitePartnerInput,
    ) -> async_graphql::Result<InvitationPayload> {
        let actor = ctx.actor()?;
        let program_id = relay::decode_as(&input.program_id, NodeType::Program).gql()?;
        let new = NewInvitation {
            program_id,
            email: input.email,
            partner_slug: input.partner_slug,
            message: input.message,
            expires_in_days: input.expires_in_days,
        };
        invitation_payload(applications::invite(ctx.services(), &actor, new).await)
    }

    /// Revokes a pending invitation (`OWNER` or `ADMIN`).
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        input: RevokeInvitationInput,
    ) -> async_graphql::Result<InvitationPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.invitation_id, NodeType::Invitation).gql()?;
        invitation_payload(applications::revoke_invitation(ctx.services(), &actor, id).await)
    }
}
