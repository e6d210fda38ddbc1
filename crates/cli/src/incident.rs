//! `autoheal incident --event FILE`: the detector's classification of an alarm event, offline.

use crate::error::{CliError, read_input_file};
use autoheal_app::detect::decide_event;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Alarm event JSON (EventBridge, SNS or alarm action); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let event = read_event(&args.event)?;
    let (decision, _) = decide_event(&event).map_err(|e| CliError::input(format!("{}: {e}", args.event.display())))?;
    let json = serde_json::to_string_pretty(&decision).map_err(|e| CliError::failed(e.to_string()))?;
    println!("{json}");
    Ok(())
}

/// Reads an event file (or stdin) as JSON, reporting line and column of a syntax error.
pub fn read_event(path: &Path) -> Result<Value, CliError> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::input(format!("cannot read standard input: {e}")))?;
        s
    } else {
        read_input_file(path)?
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::input(format!("{}: malformed JSON at line {} column {}: {}", path.display(), e.line(), e.column(), e))
    })
}
