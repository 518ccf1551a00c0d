//! GraphQL types of partners, applications, enrollments and invitations, converted
//! explicitly from the storage models.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    application, application_event, application_question, code_list, enrollment, invitation,
    partner,
};

use crate::graphql::{
    error::loader_error,
    loaders::{
        AppLoader, EnrollmentOf, EventsOfUnchecked, PartnerById, ProgramByIdUnchecked,
        TierByIdUnchecked,
    },
    programs::{PartnerType, Program, ProgramTier},
    relay::{self, NodeType},
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::partner::PromotionChannel")]
pub enum PromotionChannel {
    Blog,
    Newsletter,
    Youtube,
    Podcast,
    Social,
    PaidAds,
    Community,
    Events,
    Consulting,
    Marketplace,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::application_question::QuestionKind")]
pub enum QuestionKind {
    /// One line, up to 300 characters.
    ShortText,
    /// Up to 5,000 characters.
    LongText,
    /// An http(s) URL.
    Url,
    /// Exactly one of the options.
    SingleSelect,
    /// Any number of the options.
    MultiSelect,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::application::ApplicationStatus")]
pub enum ApplicationStatus {
    /// Waiting for the vendor's decision.
    Pending,
    /// Approved: the partner is (or was) enrolled.
    Approved,
    Rejected,
    /// Withdrawn by the partner before a decision.
    Withdrawn,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::application::JoinSource")]
pub enum JoinSource {
    MarketplaceSearch,
    MarketplaceBrowse,
    DirectLink,
    Invitation,
    PartnerReferral,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::application::RejectionReason")]
pub enum RejectionReason {
    NotAFit,
    /// The application lacks information.
    Incomplete,
    /// The partner's audience or kind of partnership does not match.
    Audience,
    /// The program does not serve the partner's countries.
    Region,
    /// Explained in the note.
    Other,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enrollment::EnrollmentStatus")]
pub enum EnrollmentStatus {
    Active,
    /// Paused by the vendor; no new commissions until reinstated.
    Suspended,
    /// The partner left.
    Left,
    /// Ended by the vendor.
    Terminated,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::invitation::InvitationStatus")]
pub enum InvitationStatus {
    /// Usable until `expiresAt`.
    Pending,
    /// Used to apply.
    Accepted,
    Revoked,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::application_event::ApplicationEventKind")]
pub enum ApplicationEventKind {
    Submitted,
    Approved,
    Rejected,
    Withdrawn,
    Enrolled,
    Left,
    Suspended,
    Reinstated,
    Terminated,
}

/// A partner's profile: one per user, reused for every application.
#[derive(Clone)]
pub struct Partner(pub partner::Model);

#[Object]
impl Partner {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Partner, self.0.id)
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    /// The kinds of partnership offered.
    async fn partner_types(&self) -> Vec<PartnerType> {
        code_list::decode::<entity::program::PartnerType>(&self.0.partner_types)
            .into_iter()
            .map(PartnerType::from)
            .collect()
    }

    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    async fn audience_description(&self) -> &str {
        &self.0.audience_description
    }

    /// Followers, subscribers or clients, as declared.
    async fn audience_size(&self) -> Option<i64> {
        self.0.audience_size
    }

    /// ISO 3166-1 alpha-2 codes of the audience's countries.
    async fn countries(&self) -> Vec<&str> {
        code_list::decode_strs(&self.0.countries).collect()
    }

    /// ISO 639-1 codes.
    async fn languages(&self) -> Vec<&str> {
        code_list::decode_strs(&self.0.languages).collect()
    }

    async fn channels(&self) -> Vec<PromotionChannel> {
        code_list::decode::<entity::partner::PromotionChannel>(&self.0.channels)
            .into_iter()
            .map(PromotionChannel::from)
            .collect()
    }

    /// Send it back as `expectedVersion` when updating.
    async fn version(&self) -> i32 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A question a program asks applicants.
#[derive(Clone)]
pub struct ApplicationQuestion(pub application_question::Model);

#[Object]
impl ApplicationQuestion {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::ApplicationQuestion, self.0.id)
    }

    async fn prompt(&self) -> &str {
        &self.0.prompt
    }

    async fn kind(&self) -> QuestionKind {
        self.0.kind.into()
    }

    /// The choices of a select question (empty otherwise).
    async fn options(&self) -> Vec<String> {
        self.0.option_labels()
    }

    async fn required(&self) -> bool {
        self.0.required
    }

    /// 0-based order on the form.
    async fn position(&self) -> i32 {
        self.0.position
    }
}

/// An answer as submitted; it keeps the prompt it answered even if the vendor later
/// edits the questions.
#[derive(SimpleObject)]
pub struct ApplicationAnswer {
    pub question_id: ID,
    pub prompt: String,
    pub kind: Option<QuestionKind>,
    pub values: Vec<String>,
}

/// One step of an application's history (the funnel).
#[derive(Clone)]
pub struct ApplicationEvent(pub application_event::Model);

#[Object]
impl ApplicationEvent {
    async fn kind(&self) -> ApplicationEventKind {
        self.0.kind.into()
    }

    async fn join_source(&self) -> JoinSource {
        self.0.join_source.into()
    }

    /// Whether the system acted (automatic approval, eligibility rules, invitation)
    /// rather than a person.
    async fn automatic(&self) -> bool {
        self.0.actor_user_id.is_none()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

async fn program_of(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Program> {
    ctx.data_unchecked::<AppLoader>()
        .load_one(ProgramByIdUnchecked(id))
        .await
        .map_err(loader_error)?
        .map(Program)
        .ok_or_else(|| async_graphql::Error::new("the program is gone"))
}

async fn partner_of(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Partner> {
    ctx.data_unchecked::<AppLoader>()
        .load_one(PartnerById(id))
        .await
        .map_err(loader_error)?
        .map(Partner)
        .ok_or_else(|| async_graphql::Error::new("the partner is gone"))
}

/// A partner's application to a program.
#[derive(Clone)]
pub struct Application(pub application::Model);

#[Object]
impl Application {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Application, self.0.id)
    }

    async fn program(&self, ctx: &Context<'_>) -> async_graphql::Result<Program> {
        program_of(ctx, self.0.program_id).await
    }

    /// The applying partner's profile.
    async fn applicant(&self, ctx: &Context<'_>) -> async_graphql::Result<Partner> {
        partner_of(ctx, self.0.partner_id).await
    }

    async fn status(&self) -> ApplicationStatus {
        self.0.status.into()
    }

    async fn answers(&self) -> Vec<ApplicationAnswer> {
        self.0
            .answer_list()
            .into_iter()
            .map(|a| ApplicationAnswer {
                question_id: relay::encode(NodeType::ApplicationQuestion, a.question_id),
                prompt: a.prompt,
                kind: <entity::application_question::QuestionKind as sea_orm::ActiveEnum>::try_from_value(&a.kind)
                    .ok()
                    .map(QuestionKind::from),
                values: a.values,
            })
            .collect()
    }

    async fn pitch(&self) -> &str {
        &self.0.pitch
    }

    async fn join_source(&self) -> JoinSource {
        self.0.join_source.into()
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    async fn rejection_reason(&self) -> Option<RejectionReason> {
        self.0.rejection_reason.map(Into::into)
    }

    /// The vendor's note to the partner.
    async fn rejection_note(&self) -> Option<&str> {
        self.0.rejection_note.as_deref()
    }

    /// Send it back as `expectedVersion` with a decision to refuse acting on a stale view.
    async fn version(&self) -> i32 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The partnership the approval started.
    async fn enrollment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Enrollment>> {
        Ok(ctx
            .data_unchecked::<AppLoader>()
            .load_one(EnrollmentOf(self.0.id))
            .await
            .map_err(loader_error)?
            .map(Enrollment))
    }

    /// What happened to the application, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApplicationEvent>> {
        Ok(ctx
            .data_unchecked::<AppLoader>()
            .load_one(EventsOfUnchecked(self.0.id))
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(ApplicationEvent)
            .collect())
    }
}

/// A partnership: an approved partner in a program.
#[derive(Clone)]
pub struct Enrollment(pub enrollment::Model);

#[Object]
impl Enrollment {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Enrollment, self.0.id)
    }

    async fn program(&self, ctx: &Context<'_>) -> async_graphql::Result<Program> {
        program_of(ctx, self.0.program_id).await
    }

    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Partner> {
        partner_of(ctx, self.0.partner_id).await
    }

    async fn application_id(&self) -> ID {
        relay::encode(NodeType::Application, self.0.application_id)
    }

    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProgramTier>> {
        let Some(tier_id) = self.0.tier_id else {
            return Ok(None);
        };
        let loader = ctx.data_unchecked::<AppLoader>();
        let tier = loader
            .load_one(TierByIdUnchecked(tier_id))
            .await
            .map_err(loader_error)?;
        let program = loader
            .load_one(ProgramByIdUnchecked(self.0.program_id))
            .await
            .map_err(loader_error)?;
        Ok(tier
            .zip(program)
            .map(|(t, p)| ProgramTier::new(t, &p.program.currency)))
    }

    /// The code to put in referral links; unique across the marketplace.
    async fn referral_code(&self) -> &str {
        &self.0.referral_code
    }

    async fn status(&self) -> EnrollmentStatus {
        self.0.status.into()
    }

    /// The program's terms version the partner accepted by joining.
    async fn terms_version(&self) -> i32 {
        self.0.terms_version
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }

    /// The first approved commission.
    async fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.0.activated_at
    }

    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }

    async fn end_reason(&self) -> Option<&str> {
        self.0.end_reason.as_deref()
    }

    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// A vendor's invitation of a partner to a program.
#[derive(Clone)]
pub struct Invitation(pub invitation::Model);

#[Object]
impl Invitation {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Invitation, self.0.id)
    }

    async fn program(&self, ctx: &Context<'_>) -> async_graphql::Result<Program> {
        program_of(ctx, self.0.program_id).await
    }

    /// Give it to the partner: applying with it approves at once.
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Partner>> {
        match self.0.partner_id {
            Some(id) => partner_of(ctx, id).await.map(Some),
            None => Ok(None),
        }
    }

    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    async fn status(&self) -> InvitationStatus {
        self.0.status.into()
    }

    /// Whether a pending invitation can no longer be used.
    async fn expired(&self) -> bool {
        self.0.expires_at <= Utc::now()
    }

    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
