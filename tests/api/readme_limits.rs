//! Every GraphQL operation the README prints fits the request limits with room to
//! spare, as does GraphiQL's introspection query: the pre-check (bytes, tokens, nesting, expanded selections), async-graphql's
//! depth and complexity limits, and the cost budget. The figures printed here are the
//! headroom table of SECURITY.md.

use api::graphql::precheck::{DocumentLimits, check};
use serde_json::json;
use tests::TestApp;

/// The ```graphql blocks of the README.
fn readme_operations() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[tokio::test]
async fn every_readme_operation_fits_the_limits_with_room_to_spare() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root@example.com").await;
    let limits = DocumentLimits::default();
    let mut operations = readme_operations();
    assert!(operations.len() >= 20, "found {}", operations.len());
    // And what GraphiQL sends first: the full introspection query.
    operations.push(include_str!("../../api/benches/introspection.graphql").to_owned());
    let mut worst = (0, 0, 0, 0, 0u64);
    for operation in &operations {
        let summary =
            check(operation, &limits).unwrap_or_else(|refusal| panic!("{refusal:?}: {operation}"));
        let answer = admin.gql(operation, json!({})).await;
        let code = answer.body["errors"][0]["extensions"]["code"].as_str();
        assert!(
            !matches!(
                code,
                Some("QUERY_TOO_COMPLEX" | "QUERY_TOO_LARGE" | "MAX_DEPTH_LIMIT" | "RATE_LIMITED")
            ),
            "{operation}: {:#}",
            answer.body
        );
        // Placeholders (`<program id>`) fail as input, never as a document.
        assert!(
            !matches!(
                code,
                Some("GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED")
            ),
            "{operation}: {:#}",
            answer.body
        );
        let cost = answer.body["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap_or(0);
        worst = (
            worst.0.max(operation.len()),
            worst.1.max(summary.tokens),
            worst.2.max(summary.nesting),
            worst.3.max(summary.selections),
            worst.4.max(cost),
        );
    }
    eprintln!(
        "README operations and GraphiQL's introspection ({}): largest {} bytes of {}, {} tokens of {}, nesting {} of {}, {} expanded selections of {}, cost {} points (complexity ≤ {}) of a 1,000-point budget",
        operations.len(),
        worst.0,
        limits.max_bytes,
        worst.1,
        limits.max_tokens,
        worst.2,
        limits.max_nesting,
        worst.3,
        limits.max_selections,
        worst.4,
        worst.4 * 10
    );
}
