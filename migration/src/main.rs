//! `cargo run -p migration -- up|down|status|fresh|refresh|reset`: the schema CLI.
//!
//! Written by hand instead of enabling sea-orm-migration's `cli` feature, which pulls the
//! whole sea-orm-cli (code generator included) into every build of the workspace.

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database};

#[derive(Parser)]
#[command(about = "Apply, revert and inspect the database schema")]
struct Cli {
    /// Database to migrate; defaults to the embedded SQLite file the API uses.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/marketplace.db?mode=rwc"
    )]
    database_url: String,
    /// PostgreSQL schema to migrate (search_path); the server's default schema if unset.
    #[arg(long, env = "DATABASE_SCHEMA")]
    database_schema: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations (all, or the next N).
    Up {
        #[arg(short = 'n', long)]
        steps: Option<u32>,
    },
    /// Revert applied migrations (the last one, or the last N).
    Down {
        #[arg(short = 'n', long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply all migrations.
    Fresh,
    /// Revert all applied migrations, then apply them all again.
    Refresh,
    /// Revert all applied migrations.
    Reset,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    if let Some(path) = cli.database_url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(file).parent() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut options = ConnectOptions::new(cli.database_url);
    options.sqlx_logging(false);
    if let Some(schema) = cli.database_schema {
        options.set_schema_search_path(schema);
    }
    let db = Database::connect(options).await?;
    match cli.command {
        Command::Up { steps } => Migrator::up(&db, steps).await?,
        Command::Down { steps } => Migrator::down(&db, Some(steps)).await?,
        Command::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:<8} {}", migration.status().to_string(), migration.name());
            }
        }
        Command::Fresh => Migrator::fresh(&db).await?,
        Command::Refresh => Migrator::refresh(&db).await?,
        Command::Reset => Migrator::reset(&db).await?,
    }
    Ok(())
}
