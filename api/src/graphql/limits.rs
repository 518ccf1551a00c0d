//! Checks async-graphql does not make on its own, and the rate limits.
//!
//! Most run in the HTTP layer, before execution, on the parsed (usually cached) document:
//! aliases and root fields per operation, unknown directives, introspection
//! ([`RequestLimits::check`]); a deleted account's token and the mutation budget
//! ([`admit`]). Only the cost budget needs what async-graphql computes during validation
//! (the operation's complexity), so it is the one extension ([`CostBudget`]), installed
//! only when rate limits are on: with any extension at all, async-graphql resolves every
//! field through its hook path (a registry look-up and a boxed future per field), which
//! measured ~20 % of a listing request's CPU.

use std::sync::{Arc, Mutex};

use async_graphql::{
    Pos, Positioned, Response, ServerError, ValidationResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation},
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType,
        Selection, SelectionSet,
    },
};

use super::RequestInfo;
use crate::{
    auth::Viewer,
    error::{AppError, ErrorCode},
    service::{
        Services,
        limits::{self, Budget},
    },
};

/// Upper bound on selections visited while counting, so that a "fragment bomb" (fragments
/// spreading each other exponentially) is refused instead of walked.
const MAX_VISITED_SELECTIONS: usize = 20_000;

/// Directives accepted on one field (`@include` and `@skip` are all there are).
pub const MAX_DIRECTIVES_PER_FIELD: usize = 5;

#[derive(Clone, Copy)]
pub struct RequestLimits {
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Root fields of a mutation (each one a write; one by default, so a document cannot
    /// batch writes past the per-request limits).
    pub max_mutation_fields: usize,
    /// When false, `__schema` and `__type` are refused with an error (async-graphql alone
    /// would answer them with a silent `null`).
    pub introspection: bool,
}

fn with_code(mut err: ServerError, code: ErrorCode) -> ServerError {
    let has_code = err
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
    err
}

fn too_complex(message: String) -> ServerError {
    with_code(ServerError::new(message, None), ErrorCode::QueryTooComplex)
}

impl RequestLimits {
    /// The checks on a parsed document; an `Err` is a request error with its code. The
    /// verdict depends on the text alone, so a cached document passed it already.
    pub fn check(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let counts =
            Counts::of(document).ok_or_else(|| too_complex("the document is too large".into()))?;
        if counts.aliases > self.max_aliases {
            return Err(too_complex(format!(
                "the document uses {} aliases; at most {} are allowed",
                counts.aliases, self.max_aliases
            )));
        }
        if counts.root_fields > self.max_root_fields {
            return Err(too_complex(format!(
                "an operation selects {} root fields; at most {} are allowed",
                counts.root_fields, self.max_root_fields
            )));
        }
        if counts.mutation_fields > self.max_mutation_fields {
            return Err(too_complex(format!(
                "a mutation selects {} root fields; at most {} are allowed (send one mutation per request)",
                counts.mutation_fields, self.max_mutation_fields
            )));
        }
        // A limit before validity: a flood of unknown directives is refused as a flood.
        if counts.most_directives > MAX_DIRECTIVES_PER_FIELD {
            return Err(too_complex(format!(
                "a field carries {} directives; at most {MAX_DIRECTIVES_PER_FIELD} are allowed",
                counts.most_directives
            )));
        }
        if let Some(problem) = counts.invalid {
            return Err(with_code(
                ServerError::new(problem, None),
                ErrorCode::GraphqlValidationFailed,
            ));
        }
        if counts.introspection && !self.introspection {
            let err = ServerError::new("introspection is disabled on this server", None);
            return Err(with_code(err, ErrorCode::GraphqlValidationFailed));
        }
        Ok(())
    }
}

/// A parse error, with its code.
pub fn parse_failed(err: ServerError) -> ServerError {
    with_code(err, ErrorCode::GraphqlParseFailed)
}

/// The code of a request error async-graphql reports itself: its recursion, directive,
/// depth and complexity limits are limits; choosing the operation is the request's
/// fault; everything else it refuses before execution is validation.
pub fn request_error_code(err: ServerError) -> ServerError {
    let limit = [
        "The recursion depth of the query",
        "The number of directives on the field",
        "Query is too complex",
        "Query is nested too deep",
    ]
    .iter()
    .any(|prefix| err.message.starts_with(prefix));
    let selection = err.message.starts_with("Unknown operation named")
        || err.message.starts_with("Operation name required");
    let code = if limit {
        ErrorCode::QueryTooComplex
    } else if selection {
        ErrorCode::BadRequest
    } else {
        ErrorCode::GraphqlValidationFailed
    };
    with_code(err, code)
}

fn refused(e: AppError) -> ServerError {
    super::error::to_graphql(e).into_server_error(Pos::default())
}

/// What may run before execution: a correctly signed token of an account deleted since
/// cannot write, and a mutation spends the caller's mutation budget.
pub async fn admit(
    services: &Services,
    info: &RequestInfo,
    operation: Operation,
) -> Result<(), ServerError> {
    if operation.ty != OperationType::Mutation {
        return Ok(());
    }
    let viewer = info.auth.clone().unwrap_or(Viewer::Anonymous);
    if let Viewer::User(user) = &viewer
        && !operation.credentials_only
    {
        // Writes on its behalf would reference a user that is gone.
        crate::service::users::require_account(services, user.user_id)
            .await
            .map_err(refused)?;
    }
    let limiter = &services.limiter;
    if !limiter.config.enabled {
        return Ok(());
    }
    let (key, rule) = match &viewer {
        Viewer::User(user) => (
            format!("mutations:user:{}", user.user_id),
            limiter.config.mutations_per_user,
        ),
        Viewer::ApiKey(k) => (
            format!("mutations:key:{}", k.key_id),
            limiter.config.mutations_per_user,
        ),
        Viewer::Anonymous => (
            limits::key(
                "mutations:ip",
                &info.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            ),
            limiter.config.mutations_per_ip,
        ),
    };
    limits::spend(&services.db, &key, rule, 1)
        .await
        .and_then(limits::Spend::into_result)
        .map(drop)
        .map_err(refused)
}

/// The cost budget, charged with the validated operation's complexity before it runs
/// and reported in `extensions.cost`.
pub struct CostBudget;

impl ExtensionFactory for CostBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostBudgetExtension {
            complexity: Mutex::default(),
        })
    }
}

struct CostBudgetExtension {
    /// The validated operation's complexity.
    complexity: Mutex<usize>,
}

#[async_trait::async_trait]
impl Extension for CostBudgetExtension {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await;
        if let (Ok(validated), Ok(mut complexity)) = (&result, self.complexity.lock()) {
            *complexity = validated.complexity;
        }
        result
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let budget = match self.charge(ctx).await {
            Ok(budget) => budget,
            // Refused before anything ran: a request error, like the other limits.
            Err(refusal) => return Response::from_errors(vec![refusal]),
        };
        let mut response = next.run(ctx, operation_name).await;
        if let Some(budget) = budget {
            response
                .extensions
                .insert("cost".to_owned(), cost_extension(&budget));
        }
        response
    }
}

impl CostBudgetExtension {
    /// `Ok(None)` when limits are off.
    async fn charge(&self, ctx: &ExtensionContext<'_>) -> Result<Option<Budget>, ServerError> {
        let (Some(services), Some(info)) =
            (ctx.data_opt::<Services>(), ctx.data_opt::<RequestInfo>())
        else {
            return Ok(None);
        };
        let limiter = &services.limiter;
        if !limiter.config.enabled {
            return Ok(None);
        }
        let viewer = info.auth.clone().unwrap_or(Viewer::Anonymous);
        let complexity = self.complexity.lock().map_or(0, |c| *c);
        let points =
            u64::try_from(complexity.div_ceil(POINTS_PER_COMPLEXITY).max(1)).unwrap_or(u64::MAX);
        charge_cost(services, &viewer, info.client_ip, points)
            .await
            .map(Some)
    }
}

/// Charges `points` to the cost budget of the viewer (an anonymous one by address).
pub async fn charge_cost(
    services: &Services,
    viewer: &Viewer,
    client_ip: Option<std::net::IpAddr>,
    points: u64,
) -> Result<Budget, ServerError> {
    let bucket = limits::Limiter::budget_key(viewer, client_ip);
    services
        .limiter
        .charge(&services.db, &bucket, points)
        .await
        .map_err(refused)
}

/// The points a response's `extensions.cost` says it was charged.
pub fn charged_points(response: &Response) -> Option<u64> {
    match response.extensions.get("cost")? {
        async_graphql::Value::Object(cost) => match cost.get("requestedQueryCost")? {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        },
        _ => None,
    }
}

/// What the limits need to know of an operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    ty: OperationType,
    /// Selects only the fields that establish credentials (`signUp`, `logIn`,
    /// `refreshToken`, `logOut`), which ignore the access token sent along.
    credentials_only: bool,
}

impl Operation {
    pub fn is_query(self) -> bool {
        self.ty == OperationType::Query
    }

    pub fn is_mutation(self) -> bool {
        self.ty == OperationType::Mutation
    }

    pub fn is_subscription(self) -> bool {
        self.ty == OperationType::Subscription
    }

    pub fn of(operation: &async_graphql::parser::types::OperationDefinition) -> Self {
        let credentials_only = operation.selection_set.node.items.iter().all(|s| {
            matches!(&s.node, Selection::Field(f)
                if matches!(f.node.name.node.as_str(), "signUp" | "logIn" | "refreshToken" | "logOut"))
        });
        Self {
            ty: operation.ty,
            credentials_only,
        }
    }
}

/// One point of the cost budget buys this much query complexity (a field is 1, a list
/// field weighs its `first` times its children).
const POINTS_PER_COMPLEXITY: usize = 10;

/// Shopify-style `extensions.cost`: what the request cost and what is left.
pub fn cost_extension(budget: &Budget) -> async_graphql::Value {
    use async_graphql::{Name, Value, indexmap::IndexMap};
    let number = |n: u64| Value::Number(n.into());
    let throttle = IndexMap::from([
        (Name::new("maximumAvailable"), number(budget.maximum)),
        (Name::new("currentlyAvailable"), number(budget.available)),
        (
            Name::new("restoreRate"),
            serde_json::Number::from_f64(budget.restore_rate).map_or(Value::Null, Value::Number),
        ),
    ]);
    Value::Object(IndexMap::from([
        (Name::new("requestedQueryCost"), number(budget.requested)),
        (Name::new("throttleStatus"), Value::Object(throttle)),
    ]))
}

/// Aliases and root fields as executed: fragments are expanded where they are spread.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    aliases: usize,
    root_fields: usize,
    /// Root fields of the largest mutation operation.
    mutation_fields: usize,
    /// `__schema` or `__type` is selected at the root.
    introspection: bool,
    /// The most directives on one field.
    most_directives: usize,
    /// What async-graphql's validation lets through but the spec refuses: directives it
    /// does not know where it does not look (on `__typename`, on variables), and
    /// arguments to `__typename`.
    invalid: Option<String>,
}

/// The executable directives this server knows (async-graphql's built-ins).
const KNOWN_DIRECTIVES: [&str; 2] = ["include", "skip"];

fn unknown_directive(directives: &[Positioned<Directive>]) -> Option<String> {
    directives
        .iter()
        .map(|d| d.node.name.node.as_str())
        .find(|name| !KNOWN_DIRECTIVES.contains(name))
        .map(|name| {
            let shown: String = name.chars().take(64).collect();
            format!("Unknown directive \"{shown}\"")
        })
}

impl Counts {
    /// `None` when the document is too large to count.
    fn of(document: &ExecutableDocument) -> Option<Self> {
        let mut walker = Walker {
            document,
            visited: 0,
            aliases: 0,
            introspection: false,
            most_directives: 0,
            invalid: None,
        };
        for fragment in document.fragments.values() {
            walker.note(unknown_directive(&fragment.node.directives));
        }
        let mut root_fields = 0;
        let mut mutation_fields = 0;
        let operations: Vec<_> = match &document.operations {
            DocumentOperations::Single(op) => vec![op],
            DocumentOperations::Multiple(map) => map.values().collect(),
        };
        for operation in operations {
            walker.note(unknown_directive(&operation.node.directives));
            for variable in &operation.node.variable_definitions {
                walker.note(unknown_directive(&variable.node.directives));
            }
            let before = walker.aliases;
            let roots = walker.walk(&operation.node.selection_set.node, 0, true)?;
            root_fields = root_fields.max(roots);
            if operation.node.ty == OperationType::Mutation {
                mutation_fields = mutation_fields.max(roots);
            }
            // Operations run one at a time: count the worst one, not their sum.
            walker.aliases = before.max(walker.aliases - before);
        }
        Some(Self {
            aliases: walker.aliases,
            root_fields,
            mutation_fields,
            introspection: walker.introspection,
            most_directives: walker.most_directives,
            invalid: walker.invalid,
        })
    }
}

struct Walker<'a> {
    document: &'a ExecutableDocument,
    visited: usize,
    aliases: usize,
    introspection: bool,
    most_directives: usize,
    invalid: Option<String>,
}

impl Walker<'_> {
    /// Keeps the first problem found.
    fn note(&mut self, problem: Option<String>) {
        if self.invalid.is_none() {
            self.invalid = problem;
        }
    }

    /// Returns the number of fields directly in `set` (fragments flattened), or `None`
    /// when the walk exceeds its budget.
    fn walk(&mut self, set: &SelectionSet, depth: usize, at_root: bool) -> Option<usize> {
        if depth > 64 {
            return None;
        }
        let mut fields = 0;
        for selection in &set.items {
            self.visited += 1;
            if self.visited > MAX_VISITED_SELECTIONS {
                return None;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.alias.is_some() {
                        self.aliases += 1;
                    }
                    let name = field.name.node.as_str();
                    self.most_directives = self.most_directives.max(field.directives.len());
                    self.note(unknown_directive(&field.directives));
                    if name == "__typename" && !field.arguments.is_empty() {
                        self.note(Some("`__typename` takes no arguments".to_owned()));
                    }
                    if at_root && matches!(name, "__schema" | "__type") {
                        self.introspection = true;
                    }
                    if !(at_root && name == "__typename") {
                        fields += 1;
                    }
                    self.walk(&field.selection_set.node, depth + 1, false)?;
                }
                Selection::InlineFragment(inline) => {
                    self.note(unknown_directive(&inline.node.directives));
                    fields += self.walk(&inline.node.selection_set.node, depth + 1, at_root)?;
                }
                Selection::FragmentSpread(spread) => {
                    self.note(unknown_directive(&spread.node.directives));
                    let name = &spread.node.fragment_name.node;
                    // Unknown fragments are reported by validation.
                    if let Some(fragment) = self.document.fragments.get(name) {
                        let fragment: &FragmentDefinition = &fragment.node;
                        fields += self.walk(&fragment.selection_set.node, depth + 1, at_root)?;
                    }
                }
            }
        }
        Some(fields)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn counts(query: &str) -> Option<Counts> {
        Counts::of(&parse_query(query).unwrap())
    }

    #[test]
    fn aliases_inside_fragments_count_once_per_spread() {
        let c = counts(
            "query { a: viewer { ...F } b: viewer { ...F } } fragment F on User { x: id y: id }",
        )
        .unwrap();
        assert_eq!(
            c,
            Counts {
                aliases: 6,
                root_fields: 2,
                mutation_fields: 0,
                introspection: false,
                most_directives: 0,
                invalid: None,
            }
        );
    }

    #[test]
    fn typename_is_not_a_root_field_and_fragments_at_the_root_are_flattened() {
        let c = counts(
            "query { __typename ...R } fragment R on Query { viewer { id } node(id: 1) { id } }",
        )
        .unwrap();
        assert_eq!(c.root_fields, 2);
    }

    #[test]
    fn introspection_is_detected_at_the_root_even_behind_a_fragment() {
        assert!(
            counts("{ ...I } fragment I on Query { __schema { types { name } } }")
                .unwrap()
                .introspection
        );
        assert!(!counts("{ viewer { __typename } }").unwrap().introspection);
    }

    #[test]
    fn unknown_directives_are_found_wherever_they_stand() {
        for query in [
            "{ __typename @foo }",
            "query($a: Int @foo) { viewer { id(x: $a) } }",
            "{ ...F } fragment F on Query @foo { __typename }",
            "{ ... @foo { __typename } }",
            "{ ...F @foo } fragment F on Query { __typename }",
            "query @foo { __typename }",
        ] {
            let c = counts(query).unwrap();
            assert_eq!(
                c.invalid.as_deref(),
                Some("Unknown directive \"foo\""),
                "{query}"
            );
        }
        assert!(counts("{ __typename(x: 1) }").unwrap().invalid.is_some());
        assert!(
            counts("{ viewer @include(if: true) @skip(if: false) { id } }")
                .unwrap()
                .invalid
                .is_none()
        );
    }

    #[test]
    fn a_fragment_bomb_is_refused_rather_than_walked() {
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..30 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        q.push_str("fragment F30 on Query { viewer { id } }");
        assert!(counts(&q).is_none());
    }
}
