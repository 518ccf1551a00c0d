//! `api`: serve (default), `print-schema`, or `seed`. See `api --help`.

use std::process::ExitCode;

use anyhow::Context as _;
use api::{
    config::{Cli, Command},
    graphql,
    progress::Progress,
    service::demo,
    startup, telemetry,
};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::PrintSchema { output }) = &cli.command {
        let sdl = graphql::sdl();
        if let Some(path) = output {
            return std::fs::write(path, sdl)
                .with_context(|| format!("writing {}", path.display()));
        }
        print!("{sdl}");
        return Ok(());
    }
    let config = cli.settings.resolve()?;
    telemetry::init(config.log_format, &config.log_filter);
    if let Some(Command::Seed { generate, batch }) = cli.command {
        return seed(config, generate, batch).await;
    }
    if let Some(Command::Reindex) = cli.command {
        return reindex(config).await;
    }
    let graphiql = config.http.graphiql;
    let demo = config.demo_data;
    let app = startup::Application::build(config).await?;
    tracing::info!("listening on http://{}", app.address());
    if graphiql {
        tracing::info!("GraphiQL: http://{}/graphiql", app.address());
    }
    if demo {
        print_demo_logins();
    }
    app.run_until_stopped().await.context("server error")
}

/// `api seed`: the demo marketplace, or `--generate N` benchmark programs.
async fn seed(
    config: api::config::Config,
    generate: Option<u64>,
    batch: usize,
) -> anyhow::Result<()> {
    let config = api::config::Config {
        demo_data: false,
        ..config
    };
    let services = startup::prepare(&config, startup::SearchSetup::Detached).await?;
    match generate {
        None => {
            let loaded = demo::load(&services)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!(
                "demo marketplace in place ({} users, {} vendors, {} programs created now)",
                loaded.users, loaded.vendors, loaded.programs
            );
            print_demo_logins();
        }
        Some(count) => {
            let mut bar = Progress::new("programs");
            let created = demo::generate(&services, count, batch, |done, total| {
                bar.update(done, total)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!(
                "{created} programs generated in {:.1} s",
                bar.elapsed().as_secs_f64()
            );
        }
    }
    // Servers running on this database answer from the new data now.
    services.changes.announce(&services.db).await;
    Ok(())
}

/// `api reindex`: a fresh index built beside the live one, then swapped in.
async fn reindex(config: api::config::Config) -> anyhow::Result<()> {
    let config = api::config::Config {
        demo_data: false,
        ..config
    };
    let services = startup::prepare(&config, startup::SearchSetup::Configured).await?;
    let mut bar = Progress::new("documents");
    let indexed =
        api::service::search::reindex(&services, 500, |done, total| bar.update(done, total))
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let indexer = api::service::indexer::SearchIndexer::new(&services, config.search.write_timeout);
    let replayed = api::service::events::consumer::drain(&services.db, &indexer)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // Running servers answer searches from the new index now.
    services.changes.announce(&services.db).await;
    println!(
        "{indexed} documents indexed in {:.1} s into a new {} index; {replayed} later changes applied",
        bar.elapsed().as_secs_f64(),
        services.search.engine()
    );
    Ok(())
}

fn print_demo_logins() {
    println!("Demo accounts (password `{}`):", seed::DEMO_PASSWORD);
    for user in seed::DEMO_USERS {
        println!("  {:<22} {}", user.email, user.role);
    }
}
