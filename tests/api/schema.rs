//! The committed `schema.graphql` is what the code serves.

#[test]
fn the_committed_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema.graphql at the repository root");
    let generated = api::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date; run `cargo run -p api -- print-schema -o schema.graphql`"
    );
}
