//! Spec-correct response data. async-graphql 7.2.1 resolves a selection's fields
//! concurrently and inserts each as it completes, and drops a field that failed: its maps
//! follow completion order (changing from run to run), and an errored field is missing
//! instead of null. The GraphQL spec orders a response map like its selection set
//! (§6.3, CollectFields, fragments expanded in place) and makes an errored field null —
//! and, when the field's type is non-null, its parent, up to the nearest nullable field
//! or `data` itself (§6.4.4). The plan of the operation's response keys, with each
//! field's nullability from the schema, is built before execution; after it, the errors'
//! paths put the nulls where they belong, then the maps are put in order (maps already in
//! order are left as they are).

use std::collections::HashMap;

use async_graphql::{
    Name, PathSegment, ServerError, Value as ConstValue,
    indexmap::IndexMap,
    parser::types::{
        BaseType, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
        Type, TypeKind, TypeSystemDefinition,
    },
};

/// What the plan needs of a field's type: whether it (and a list's items) may be null,
/// and the named type its selection applies to.
#[derive(Debug, Clone, Default)]
struct FieldType {
    non_null: bool,
    items_non_null: bool,
    named: String,
}

/// The fields of the schema's object and interface types.
#[derive(Debug, Default)]
pub struct Types(HashMap<String, HashMap<String, FieldType>>);

impl Types {
    /// From the schema's SDL (`Schema::sdl`).
    pub fn from_sdl(sdl: &str) -> Self {
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return Self::default();
        };
        let mut types = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let fields = match definition.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                _ => continue,
            };
            let fields = fields
                .into_iter()
                .map(|f| (f.node.name.node.to_string(), field_type(&f.node.ty.node)))
                .collect();
            types.insert(definition.name.node.to_string(), fields);
        }
        Self(types)
    }

    /// The type of `parent.name` (`None` for `__typename` and names the schema lacks).
    fn field(&self, parent: &str, name: &str) -> Option<&FieldType> {
        self.0.get(parent)?.get(name)
    }
}

fn field_type(ty: &Type) -> FieldType {
    let (items_non_null, named) = match &ty.base {
        BaseType::Named(name) => (false, name.to_string()),
        BaseType::List(item) => {
            let mut inner = item.as_ref();
            while let BaseType::List(next) = &inner.base {
                inner = next;
            }
            let named = match &inner.base {
                BaseType::Named(name) => name.to_string(),
                BaseType::List(_) => String::new(),
            };
            (!item.nullable, named)
        }
    };
    FieldType {
        non_null: !ty.nullable,
        items_non_null,
        named,
    }
}

/// The response keys of a selection set in order, each with its field's type and the
/// plan of its own selection.
#[derive(Debug, Default)]
pub struct Plan {
    keys: Vec<(Name, Entry)>,
}

#[derive(Debug, Default)]
struct Entry {
    non_null: bool,
    items_non_null: bool,
    plan: Plan,
}

/// How deep fragments may nest while collecting (validation rejects cycles; this bounds
/// the walk whatever reaches it).
const MAX_DEPTH: usize = 64;

impl Plan {
    /// The plan of `operation`'s selection, its fragments taken from `document`.
    pub fn of(
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        types: &Types,
    ) -> Self {
        let root = match operation.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        let mut plan = Plan::default();
        plan.collect(document, types, root, &operation.selection_set.node, 0);
        plan
    }

    fn collect(
        &mut self,
        document: &ExecutableDocument,
        types: &Types,
        parent: &str,
        set: &SelectionSet,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let ty = types.field(parent, name);
                    let key = field.node.response_key().node.clone();
                    let at = match self.keys.iter().position(|(k, _)| *k == key) {
                        Some(at) => at,
                        None => {
                            self.keys.push((
                                key,
                                Entry {
                                    // `__typename` is never null.
                                    non_null: ty.map_or(name == "__typename", |t| t.non_null),
                                    items_non_null: ty.is_some_and(|t| t.items_non_null),
                                    plan: Plan::default(),
                                },
                            ));
                            self.keys.len() - 1
                        }
                    };
                    let sub = &field.node.selection_set.node;
                    if !sub.items.is_empty() {
                        let named = ty.map_or("", |t| t.named.as_str());
                        self.keys[at]
                            .1
                            .plan
                            .collect(document, types, named, sub, depth + 1);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        self.collect(
                            document,
                            types,
                            on,
                            &fragment.node.selection_set.node,
                            depth + 1,
                        );
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |c| c.node.on.node.as_str());
                    self.collect(
                        document,
                        types,
                        on,
                        &inline.node.selection_set.node,
                        depth + 1,
                    );
                }
            }
        }
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.keys
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, e)| e)
    }

    /// Puts a null where each error's field is missing, and propagates it up through
    /// non-null fields (to `data` itself when a non-null root field failed).
    pub fn nulls(&self, data: &mut ConstValue, errors: &[ServerError]) {
        for error in errors {
            let Some((PathSegment::Field(key), rest)) = error.path.split_first() else {
                continue;
            };
            if matches!(data, ConstValue::Null) {
                *data = ConstValue::Object(IndexMap::new());
            }
            let ConstValue::Object(map) = data else {
                continue;
            };
            let Some(entry) = self.entry(key) else {
                continue;
            };
            if field_must_null(map, key, entry, rest) {
                *data = ConstValue::Null;
                // Nothing below a null `data` can be placed.
                return;
            }
        }
    }

    /// Puts every map of `value` (this plan's selection) in order.
    pub fn apply(&self, value: &mut ConstValue) {
        match value {
            ConstValue::Object(map) => {
                if !self.in_order(map) {
                    let mut old = std::mem::take(map);
                    let mut ordered = IndexMap::with_capacity(old.len());
                    for (key, _) in &self.keys {
                        if let Some((key, value)) = old.shift_remove_entry(key) {
                            ordered.insert(key, value);
                        }
                    }
                    // Keys no selection names (none expected) keep their place after.
                    ordered.extend(old);
                    *map = ordered;
                }
                for (key, entry) in &self.keys {
                    if !entry.plan.keys.is_empty()
                        && let Some(child) = map.get_mut(key)
                    {
                        entry.plan.apply(child);
                    }
                }
            }
            ConstValue::List(items) => {
                for item in items {
                    self.apply(item);
                }
            }
            _ => {}
        }
    }

    /// Whether the keys of `map` come in the plan's order.
    fn in_order(&self, map: &IndexMap<Name, ConstValue>) -> bool {
        let mut next = 0;
        map.keys().all(
            |key| match self.keys[next..].iter().position(|(k, _)| k == key) {
                Some(at) => {
                    next += at + 1;
                    true
                }
                None => false,
            },
        )
    }
}

/// Makes `map[key]` null if the error at `rest` below it requires; returns whether the
/// object holding it must become null in turn (the field is non-null).
fn field_must_null(
    map: &mut IndexMap<Name, ConstValue>,
    key: &str,
    entry: &Entry,
    rest: &[PathSegment],
) -> bool {
    let null_here = match map.get_mut(key) {
        None | Some(ConstValue::Null) => true,
        Some(value) => !rest.is_empty() && value_must_null(value, entry, rest),
    };
    if !null_here {
        return false;
    }
    map.insert(Name::new(key), ConstValue::Null);
    entry.non_null
}

/// Follows `rest` into `value` (the value of `entry`'s field); returns whether the value
/// itself must become null.
fn value_must_null(value: &mut ConstValue, entry: &Entry, rest: &[PathSegment]) -> bool {
    match (value, rest.split_first()) {
        (ConstValue::Object(map), Some((PathSegment::Field(key), rest))) => {
            match entry.plan.entry(key) {
                Some(child) => field_must_null(map, key, child, rest),
                None => false,
            }
        }
        (ConstValue::List(items), Some((PathSegment::Index(i), rest))) => {
            let Some(item) = items.get_mut(*i) else {
                return false;
            };
            let item_null = matches!(item, ConstValue::Null) || value_must_null(item, entry, rest);
            if item_null {
                *item = ConstValue::Null;
                entry.items_non_null
            } else {
                false
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(query: &str) -> Plan {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let operation = match &document.operations {
            async_graphql::parser::types::DocumentOperations::Single(op) => op.node.clone(),
            async_graphql::parser::types::DocumentOperations::Multiple(ops) => {
                ops.values().next().unwrap().node.clone()
            }
        };
        Plan::of(&document, &operation, &types())
    }

    fn types() -> Types {
        Types::from_sdl(
            "type Query { p: [P!]! maybe: P must: P! }
             type P { name: String! currency: String tiers: [String!]! vendor: V trust: T! }
             type V { a: Int b: Int }
             type T { rate: Int! share: Int }",
        )
    }

    fn run(query: &str, data: serde_json::Value, paths: &[&[PathSegment]]) -> serde_json::Value {
        let plan = plan(query);
        let mut value = ConstValue::from_json(data).unwrap();
        let errors: Vec<ServerError> = paths
            .iter()
            .map(|p| {
                let mut e = ServerError::new("failed", None);
                e.path = p.to_vec();
                e
            })
            .collect();
        plan.nulls(&mut value, &errors);
        plan.apply(&mut value);
        value.into_json().unwrap()
    }

    fn f(name: &str) -> PathSegment {
        PathSegment::Field(name.to_owned())
    }

    #[test]
    fn an_errored_nullable_field_is_null_in_place() {
        let data = serde_json::json!({ "maybe": { "name": "n" } });
        let out = run(
            "{ maybe { currency name } }",
            data,
            &[&[f("maybe"), f("currency")]],
        );
        assert_eq!(
            out,
            serde_json::json!({ "maybe": { "currency": null, "name": "n" } })
        );
    }

    #[test]
    fn an_errored_non_null_field_nulls_its_parent_up_to_a_nullable_one() {
        // trust.rate is non-null and trust is non-null: `maybe` (nullable) becomes null.
        let data = serde_json::json!({ "maybe": { "name": "n", "trust": { "share": 1 } } });
        let out = run(
            "{ maybe { name trust { rate share } } }",
            data,
            &[&[f("maybe"), f("trust"), f("rate")]],
        );
        assert_eq!(out, serde_json::json!({ "maybe": null }));
    }

    #[test]
    fn a_non_null_root_field_makes_data_null() {
        let data = serde_json::json!({ "maybe": { "name": "n" } });
        let out = run("{ maybe { name } must { name } }", data, &[&[f("must")]]);
        assert_eq!(out, serde_json::Value::Null);
    }

    #[test]
    fn a_non_null_list_item_nulls_the_list_field() {
        let data = serde_json::json!({ "p": [{ "name": "a" }, { "currency": "x" }] });
        let out = run(
            "{ p { name currency } }",
            data,
            &[&[f("p"), PathSegment::Index(1), f("name")]],
        );
        assert_eq!(
            out,
            serde_json::Value::Null,
            "P! items and p: [P!]! up to data"
        );
    }

    fn keys(value: &ConstValue) -> Vec<String> {
        match value {
            ConstValue::Object(map) => map.keys().map(|k| k.to_string()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn maps_follow_the_selection_with_fragments_in_place() {
        let plan = plan(
            "query { p { name ...F tiers vendor { b a } } } fragment F on P { currency x: name }",
        );
        let mut value = ConstValue::from_json(serde_json::json!({
            "p": [{ "vendor": { "a": 1, "b": 2 }, "tiers": [], "x": "n", "currency": "USD", "name": "n" }]
        }))
        .unwrap();
        plan.apply(&mut value);
        let ConstValue::Object(root) = &value else {
            panic!()
        };
        let ConstValue::List(items) = &root["p"] else {
            panic!()
        };
        assert_eq!(
            keys(&items[0]),
            ["name", "currency", "x", "tiers", "vendor"]
        );
        let ConstValue::Object(item) = &items[0] else {
            panic!()
        };
        assert_eq!(keys(&item["vendor"]), ["b", "a"]);
    }
}
