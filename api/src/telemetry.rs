//! Logging: human-readable in development, one JSON object per line in production.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call twice (the second call is a no-op).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let result = match format {
        LogFormat::Pretty => fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .try_init(),
    };
    // Already installed (tests, or a second Application in one process): keep the first.
    drop(result);
}
