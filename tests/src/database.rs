//! One fresh database per test: a SQLite file, or a PostgreSQL schema when
//! `TEST_DATABASE_URL` (an admin URL) is set.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// The PostgreSQL database holding one schema per running test.
const PG_TEST_DATABASE: &str = "marketplace_test";

pub struct TestDatabase {
    pub url: String,
    pub schema: Option<String>,
    cleanup: Option<String>,
}

impl TestDatabase {
    pub async fn create(dir: &Path) -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => Self::postgres(&admin_url).await,
            None => Self {
                url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
                schema: None,
                cleanup: None,
            },
        }
    }

    async fn postgres(admin_url: &str) -> Self {
        let admin = Database::connect(admin_url)
            .await
            .expect("TEST_DATABASE_URL reachable");
        let create = format!("CREATE DATABASE {PG_TEST_DATABASE}");
        if let Err(e) = execute(&admin, &create).await {
            // Another test process created it first.
            let text = e.to_string();
            assert!(
                text.contains("already exists") || text.contains("duplicate key"),
                "{text}"
            );
        }
        drop(admin.close().await);

        let url = with_database(admin_url, PG_TEST_DATABASE);
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("randomness");
        let schema = format!(
            "t_{}",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let db = Database::connect(&url)
            .await
            .expect("test database reachable");
        execute(&db, &format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema created");
        drop(db.close().await);
        Self {
            url: url.clone(),
            schema: Some(schema.clone()),
            cleanup: Some(schema),
        }
    }
}

impl TestDatabase {
    /// The same database for a second server (a replica); only the original drops it.
    pub fn shared(&self) -> Self {
        Self {
            url: self.url.clone(),
            schema: self.schema.clone(),
            cleanup: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(schema) = self.cleanup.take() else {
            return;
        };
        let url = self.url.clone();
        // Drop runs inside the test's runtime, which cannot block on itself.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let db = Database::connect(&url).await.ok()?;
                execute(&db, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .ok()?;
                db.close().await.ok()
            })
        });
        drop(dropper.join());
    }
}

async fn execute(db: &DatabaseConnection, sql: &str) -> Result<(), sea_orm::DbErr> {
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .map(drop)
}

/// `postgres://u@h:p/admin_db?x` → `postgres://u@h:p/<name>?x`
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
