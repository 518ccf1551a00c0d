//! `cfg(meilisearch)` when `MEILISEARCH_URL` is set at build time: the Meilisearch run
//! of the search contract is then a normal test, and otherwise an ignored one, which
//! nextest reports as skipped instead of counting a test that did nothing as passed.
//! `cfg(ws_client)` likewise when the Node subscription client is installed.

fn main() {
    println!("cargo::rerun-if-env-changed=MEILISEARCH_URL");
    println!("cargo::rustc-check-cfg=cfg(meilisearch)");
    // `cfg(ws_client)` once the reference graphql-ws client is installed
    // (`npm ci --prefix tests/ws-client`, which `.ci/run` does): the test driving
    // subscriptions with it runs; without it that test is skipped, not passed.
    let client = std::path::Path::new("ws-client/node_modules/graphql-ws/package.json");
    println!("cargo::rerun-if-changed=ws-client/node_modules/graphql-ws/package.json");
    println!("cargo::rustc-check-cfg=cfg(ws_client)");
    if client.exists() {
        println!("cargo::rustc-cfg=ws_client");
    }
    if std::env::var_os("MEILISEARCH_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=meilisearch");
    }
}
