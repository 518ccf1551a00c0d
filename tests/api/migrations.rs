//! Migrations run forwards and backwards on the engine under test.

use migration::{Migrator, MigratorTrait};
use tests::TestApp;

#[tokio::test]
async fn migrations_apply_at_start_up_and_can_be_reverted_and_reapplied() {
    let app = TestApp::spawn().await;
    let db = &app.services.db;
    let applied = Migrator::get_applied_migrations(db).await.unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::reset(db).await.unwrap();
    assert!(
        Migrator::get_applied_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::up(db, None).await.unwrap();
    app.sign_up("ada@example.com").await;
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn the_server_can_start_without_migrating() {
    let app = TestApp::spawn_with(&["--auto-migrate", "false"]).await;
    let pending = Migrator::get_pending_migrations(&app.services.db)
        .await
        .unwrap();
    assert_eq!(pending.len(), Migrator::migrations().len());
}
