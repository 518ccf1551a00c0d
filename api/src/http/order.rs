//! Response maps in selection order. The GraphQL spec (§6.3, CollectFields) orders a
//! response map like its selection set, fragments expanded in place; async-graphql 7.2.1
//! resolves a selection's fields concurrently and inserts each as it completes, so its
//! maps follow completion order (and change from run to run). The plan of the operation's
//! response keys is built before execution and applied to the data after it; maps already
//! in order are left as they are.

use async_graphql::{
    Name, Value as ConstValue,
    indexmap::IndexMap,
    parser::types::{ExecutableDocument, OperationDefinition, Selection, SelectionSet},
};

/// The response keys of a selection set in order, each with the plan of its own selection.
#[derive(Debug, Default)]
pub struct Plan {
    keys: Vec<(Name, Plan)>,
}

/// How deep fragments may nest while collecting (validation rejects cycles; this bounds
/// the walk whatever reaches it).
const MAX_DEPTH: usize = 64;

impl Plan {
    /// The plan of `operation`'s selection, its fragments taken from `document`.
    pub fn of(document: &ExecutableDocument, operation: &OperationDefinition) -> Self {
        let mut plan = Plan::default();
        plan.collect(document, &operation.selection_set.node, 0);
        plan
    }

    fn collect(&mut self, document: &ExecutableDocument, set: &SelectionSet, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.clone();
                    let at = match self.keys.iter().position(|(k, _)| *k == key) {
                        Some(at) => at,
                        None => {
                            self.keys.push((key, Plan::default()));
                            self.keys.len() - 1
                        }
                    };
                    let sub = &field.node.selection_set.node;
                    if !sub.items.is_empty() {
                        self.keys[at].1.collect(document, sub, depth + 1);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.collect(document, &fragment.node.selection_set.node, depth + 1);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.collect(document, &inline.node.selection_set.node, depth + 1);
                }
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
                for (key, plan) in &self.keys {
                    if !plan.keys.is_empty()
                        && let Some(child) = map.get_mut(key)
                    {
                        plan.apply(child);
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
        Plan::of(&document, &operation)
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
