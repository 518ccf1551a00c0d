//! Assembling the schema: root types, limits, extensions, and the SDL export.

use async_graphql::{MergedObject, SDLExportOptions, Schema, SchemaBuilder};

use super::{
    accounts::{AccountMutation, AccountQuery},
    analytics::AnalyticsQuery,
    api_keys::ApiKeyMutation,
    applications::{ApplicationMutation, ApplicationQuery},
    categories::CategoryQuery,
    events::EventQuery,
    exchange_rates::{ExchangeRateMutation, ExchangeRateQuery},
    ledger::{LedgerMutation, LedgerQuery},
    limits::{CostBudget, MAX_DIRECTIVES_PER_FIELD, RequestLimits},
    programs::{ProgramMutation, ProgramQuery},
    relay::NodeQuery,
    search::SearchQuery,
    subscriptions::Subscription,
    vendors::{VendorMutation, VendorQuery},
    webhooks::{WebhookMutation, WebhookQuery},
};
use crate::{config::GraphqlConfig, service::Services};

#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    AccountQuery,
    CategoryQuery,
    VendorQuery,
    ProgramQuery,
    SearchQuery,
    ApplicationQuery,
    LedgerQuery,
    AnalyticsQuery,
    ExchangeRateQuery,
    EventQuery,
    WebhookQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    VendorMutation,
    ProgramMutation,
    ApplicationMutation,
    ApiKeyMutation,
    LedgerMutation,
    ExchangeRateMutation,
    WebhookMutation,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
}

pub fn build_schema(services: Services, config: &GraphqlConfig) -> AppSchema {
    let services_limited = services.limiter.config.enabled;
    let mut schema = builder()
        .data(services)
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_directives(MAX_DIRECTIVES_PER_FIELD);
    // The one extension, and only when it has work to do: see `limits`.
    if services_limited {
        schema = schema.extension(CostBudget);
    }
    if !config.introspection {
        schema = schema.disable_introspection();
    }
    if !config.suggestions {
        // "Did you mean …?" would spell out the schema that introspection hides.
        schema = schema.disable_suggestions();
    }
    schema.finish()
}

/// The SDL committed as `schema.graphql`, sorted so that diffs show real changes only.
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}

/// The document checks of the HTTP layer, from the configuration.
pub fn request_limits(config: &GraphqlConfig) -> RequestLimits {
    RequestLimits {
        max_aliases: config.max_aliases,
        max_root_fields: config.max_root_fields,
        max_mutation_fields: config.max_mutation_fields,
        introspection: config.introspection,
    }
}
