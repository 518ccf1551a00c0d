//! `cfg(meilisearch)` when `MEILISEARCH_URL` is set at build time: the Meilisearch run
//! of the search contract is then a normal test, and otherwise an ignored one, which
//! nextest reports as skipped instead of counting a test that did nothing as passed.

fn main() {
    println!("cargo::rerun-if-env-changed=MEILISEARCH_URL");
    println!("cargo::rustc-check-cfg=cfg(meilisearch)");
    if std::env::var_os("MEILISEARCH_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=meilisearch");
    }
}
