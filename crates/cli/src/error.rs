//! The CLI's error: bad input exits 2 with one line, a failure exits 1. Nothing here panics.

use std::fmt;

/// What went wrong, and whose fault it was.
#[derive(Debug)]
pub enum CliError {
    /// Bad flags, an unreadable or malformed file, an invalid value: the user can fix it. Exit 2.
    Input(String),
    /// The command was valid but could not be carried out (AWS refused, a run failed). Exit 1.
    Failed(String),
}

impl CliError {
    pub fn input(msg: impl Into<String>) -> Self {
        Self::Input(msg.into())
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        Self::Failed(msg.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Input(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, always: a multi-line message would break `2>` log scraping.
        let msg = match self {
            Self::Input(m) | Self::Failed(m) => m,
        };
        f.write_str(&msg.replace('\n', " "))
    }
}

impl std::error::Error for CliError {}

/// Reads a file given on the command line, naming it in the error.
pub fn read_input_file(path: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::input(format!("cannot read {}: {e}", path.display())))
}
