//! A progress bar for long commands, on stderr: redrawn in place on a terminal, one line
//! per tenth otherwise (logs and CI keep readable output).

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

pub struct Progress {
    label: &'static str,
    started: Instant,
    terminal: bool,
    last_draw: Option<Instant>,
    last_tenth: Option<u64>,
}

impl Progress {
    pub fn new(label: &'static str) -> Self {
        Self {
            label,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            last_draw: None,
            last_tenth: None,
        }
    }

    pub fn update(&mut self, done: u64, total: u64) {
        let finished = done >= total;
        let now = Instant::now();
        if self.terminal {
            if !finished
                && self
                    .last_draw
                    .is_some_and(|t| now - t < Duration::from_millis(100))
            {
                return;
            }
        } else {
            let tenth = (done * 10).checked_div(total).unwrap_or(10);
            if self.last_tenth == Some(tenth) {
                return;
            }
            self.last_tenth = Some(tenth);
        }
        self.last_draw = Some(now);
        let width = 30;
        let filled = (done * 30)
            .checked_div(total)
            .map_or(width, |f| usize::try_from(f).unwrap_or(width));
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            done as f64 / elapsed
        } else {
            0.0
        };
        let line = format!(
            "{} [{}{}] {done}/{total}  {elapsed:.1}s  {rate:.0}/s",
            self.label,
            "#".repeat(filled.min(width)),
            "-".repeat(width - filled.min(width))
        );
        let mut err = std::io::stderr();
        let _ = if self.terminal {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
        if finished && self.terminal {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
