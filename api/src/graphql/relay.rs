//! Relay object identification: opaque global IDs, the `Node` interface, `node` and
//! `nodes`. Both go through the same scoped reads as every other query.

use std::collections::HashMap;

use async_graphql::{Context, ID, Interface, Object};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{
    GqlResultExt,
    accounts::User,
    api_keys::ApiKey,
    applications::{Application, ApplicationQuestion, Enrollment, Invitation, Partner},
    categories::Category,
    context::ContextExt,
    ledger::{Commission, Conversion},
    programs::{CommissionRule, Program, ProgramTier},
    vendors::{Vendor, VendorMember},
    webhooks::{WebhookDelivery, WebhookEndpoint},
};
use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services, api_keys, applications, ledger, partners, programs, reference::categories, users,
        vendors, webhooks,
    },
};

/// Most IDs accepted by one `nodes` call.
pub const MAX_NODES: usize = 100;

/// Object types that have global IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    User,
    Vendor,
    VendorMember,
    Category,
    Program,
    ProgramTier,
    CommissionRule,
    Partner,
    ApplicationQuestion,
    Application,
    Enrollment,
    Invitation,
    ApiKey,
    Conversion,
    Commission,
    WebhookEndpoint,
    WebhookDelivery,
}

impl NodeType {
    const ALL: [NodeType; 17] = [
        NodeType::User,
        NodeType::Vendor,
        NodeType::VendorMember,
        NodeType::Category,
        NodeType::Program,
        NodeType::ProgramTier,
        NodeType::CommissionRule,
        NodeType::Partner,
        NodeType::ApplicationQuestion,
        NodeType::Application,
        NodeType::Enrollment,
        NodeType::Invitation,
        NodeType::ApiKey,
        NodeType::Conversion,
        NodeType::Commission,
        NodeType::WebhookEndpoint,
        NodeType::WebhookDelivery,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Vendor => "Vendor",
            Self::VendorMember => "VendorMember",
            Self::Category => "Category",
            Self::Program => "Program",
            Self::ProgramTier => "ProgramTier",
            Self::CommissionRule => "CommissionRule",
            Self::Partner => "Partner",
            Self::ApplicationQuestion => "ApplicationQuestion",
            Self::Application => "Application",
            Self::Enrollment => "Enrollment",
            Self::Invitation => "Invitation",
            Self::ApiKey => "ApiKey",
            Self::Conversion => "Conversion",
            Self::Commission => "Commission",
            Self::WebhookEndpoint => "WebhookEndpoint",
            Self::WebhookDelivery => "WebhookDelivery",
        }
    }
}

/// `base64url("Type:id")`: opaque to clients, stable, and self-describing for `node`.
pub fn encode(kind: NodeType, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Decodes an ID that must name a `kind` object.
pub fn decode_as(id: &ID, kind: NodeType) -> Result<i64, AppError> {
    match decode(id)? {
        (found, value) if found == kind => Ok(value),
        _ => Err(AppError::BadUserInput(format!(
            "`{}` is not a {} ID",
            truncate(id),
            kind.name()
        ))),
    }
}

pub fn decode(id: &ID) -> Result<(NodeType, i64), AppError> {
    let malformed = || AppError::BadUserInput(format!("`{}` is not a valid ID", truncate(id)));
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (name, raw) = text.split_once(':').ok_or_else(malformed)?;
    let kind = NodeType::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(malformed)?;
    let id = raw
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(malformed)?;
    Ok((kind, id))
}

fn truncate(id: &ID) -> String {
    id.chars().take(64).collect()
}

/// An object with a global ID, fetchable with `node(id:)`.
#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global identifier."))]
// Short-lived values of one response; boxing the large variants buys nothing here.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    User(User),
    Vendor(Vendor),
    VendorMember(VendorMember),
    Category(Category),
    Program(Program),
    ProgramTier(ProgramTier),
    CommissionRule(CommissionRule),
    Partner(Partner),
    ApplicationQuestion(ApplicationQuestion),
    Application(Application),
    Enrollment(Enrollment),
    Invitation(Invitation),
    ApiKey(ApiKey),
    Conversion(Conversion),
    Commission(Commission),
    WebhookEndpoint(WebhookEndpoint),
    WebhookDelivery(WebhookDelivery),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global ID, or null when it does not exist or is not visible
    /// to the caller.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let mut found = self.nodes(ctx, vec![id]).await?;
        Ok(found.pop().flatten())
    }

    /// The objects with these global IDs (at most 100), in order; null for each one that
    /// does not exist or is not visible.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::BadUserInput(format!(
                "at most {MAX_NODES} IDs per call"
            )))
            .gql();
        }
        let actor = ctx.actor()?;
        let decoded = ids
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()
            .gql()?;
        let mut by_type: HashMap<NodeType, Vec<i64>> = HashMap::new();
        for (kind, id) in &decoded {
            by_type.entry(*kind).or_default().push(*id);
        }
        let mut loaded: HashMap<(NodeType, i64), Node> = HashMap::new();
        for (kind, ids) in by_type {
            let found = load(ctx.services(), &actor.viewer, kind, &ids)
                .await
                .gql()?;
            loaded.extend(found.into_iter().map(|(id, node)| ((kind, id), node)));
        }
        Ok(decoded.iter().map(|key| loaded.get(key).cloned()).collect())
    }
}

/// Objects of one type by id, through that type's scoped read (one query per type).
async fn load(
    services: &Services,
    viewer: &Viewer,
    kind: NodeType,
    ids: &[i64],
) -> Result<Vec<(i64, Node)>, AppError> {
    Ok(match kind {
        NodeType::User => users::find_many(services, viewer, ids)
            .await?
            .into_iter()
            .map(|u| (u.id, Node::User(User(u))))
            .collect(),
        NodeType::Vendor => vendors::find_many(services, ids)
            .await?
            .into_iter()
            .map(|v| (v.id, Node::Vendor(Vendor(v))))
            .collect(),
        NodeType::VendorMember => vendors::members_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|m| (m.member.id, Node::VendorMember(VendorMember(m))))
            .collect(),
        NodeType::Category => categories::find_many(services, ids)
            .await?
            .into_iter()
            .map(|c| (c.id, Node::Category(Category::from(c))))
            .collect(),
        NodeType::Program => programs::find_many(services, viewer, ids)
            .await?
            .into_iter()
            .map(|p| (p.program.id, Node::Program(Program(p))))
            .collect(),
        NodeType::ProgramTier => programs::tiers_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|(t, currency)| (t.id, Node::ProgramTier(ProgramTier::new(t, &currency))))
            .collect(),
        NodeType::CommissionRule => programs::rules_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|((r, t), currency)| {
                (
                    r.id,
                    Node::CommissionRule(CommissionRule::new(r, t, &currency)),
                )
            })
            .collect(),
        NodeType::Partner => partners::find_many(services, viewer, ids)
            .await?
            .into_iter()
            .map(|p| (p.id, Node::Partner(Partner(p))))
            .collect(),
        NodeType::ApplicationQuestion => applications::questions_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|q| (q.id, Node::ApplicationQuestion(ApplicationQuestion(q))))
            .collect(),
        NodeType::Application => applications::applications_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|a| (a.id, Node::Application(Application(a))))
            .collect(),
        NodeType::Enrollment => applications::enrollments_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|e| (e.id, Node::Enrollment(Enrollment(e))))
            .collect(),
        NodeType::Invitation => applications::invitations_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|i| (i.id, Node::Invitation(Invitation(i))))
            .collect(),
        NodeType::ApiKey => api_keys::find_many(services, viewer, ids)
            .await?
            .into_iter()
            .map(|k| (k.id, Node::ApiKey(ApiKey(k))))
            .collect(),
        NodeType::Conversion => ledger::conversions_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|(c, rows)| (c.id, Node::Conversion(Conversion::new(c, rows))))
            .collect(),
        NodeType::Commission => ledger::commissions_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|c| (c.id, Node::Commission(Commission(c))))
            .collect(),
        NodeType::WebhookEndpoint => webhooks::endpoints_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|e| (e.id, Node::WebhookEndpoint(WebhookEndpoint(e))))
            .collect(),
        NodeType::WebhookDelivery => webhooks::deliveries_by_ids(services, viewer, ids)
            .await?
            .into_iter()
            .map(|d| (d.id, Node::WebhookDelivery(WebhookDelivery(d))))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_reject_garbage() {
        let id = encode(NodeType::User, 42);
        assert_eq!(decode(&id).unwrap(), (NodeType::User, 42));
        for bad in ["", "!!!", "VXNlcjo=", "VXNlcjotMQ", "Rm9vOjE"] {
            assert!(decode(&ID(bad.into())).is_err(), "{bad}");
        }
    }
}
