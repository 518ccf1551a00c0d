//! Categories over GraphQL.

use async_graphql::{Context, ID, Object, SimpleObject};
use entity::category;

use super::{
    GqlResultExt,
    context::ContextExt,
    relay::{self, NodeType},
};
use crate::service::reference::categories;

/// A marketplace category (CRM, analytics, …). Filter listings by its `slug`.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Category {
    #[graphql(skip)]
    pub model: category::Model,
    pub slug: String,
    pub name: String,
}

#[async_graphql::ComplexObject]
impl Category {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Category, self.model.id)
    }
}

impl From<category::Model> for Category {
    fn from(model: category::Model) -> Self {
        Self {
            slug: model.slug.clone(),
            name: model.name.clone(),
            model,
        }
    }
}

#[derive(Default)]
pub struct CategoryQuery;

#[Object]
impl CategoryQuery {
    /// Every category, in display order.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        Ok(categories::list(ctx.services())
            .await
            .gql()?
            .into_iter()
            .map(Category::from)
            .collect())
    }
}
