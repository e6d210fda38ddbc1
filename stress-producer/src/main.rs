//! stress-producer: the EC2 client's load generator. Reproduces the acks=all overload of an
//! undersized MSK cluster and reports like kafka-producer-perf-test. This file only wires:
//! flags → config, signals, the engine, the acknowledgement ledger, the summary and the exit code.

mod cli;
mod engine;
mod iam;
mod ledger;
mod report;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;

fn main() -> ExitCode {
    let argv = cli::normalize_args(std::env::args());
    let args = match cli::Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(2, &clap_one_line(&e)),
    };
    let cfg = match cli::validate(args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(msg) => return fail(2, &msg),
    };
    // Reserved before anything is sent: a ledger that cannot be written is a bad flag, not a
    // surprise after a long run.
    let ledger_file = match &cfg.ack_ledger {
        Some(path) => match ledger::PendingFile::create(path) {
            Ok(f) => Some(f),
            Err(e) => return fail(2, &format!("--ack-ledger {}: {e}", path.display())),
        },
        None => None,
    };
    let signals = Arc::new(AtomicUsize::new(0));
    if let Err(e) = watch_signals(Arc::clone(&signals)) {
        return fail(1, &format!("cannot install the signal handler: {e}"));
    }
    let outcome = match engine::run(&cfg, &signals) {
        Ok(o) => o,
        Err(e) => return fail(e.exit_code(), &e.to_string()),
    };
    let s = &outcome.summary;
    // Written before the summary is printed: whoever sees the final line can read the ledger.
    let ledger_error = match (ledger_file, &outcome.ledger) {
        (Some(file), Some(tally)) => {
            let facts = ledger::RunFacts {
                topic: &cfg.topic,
                acks: cfg.acks.as_str(),
                producers: cfg.producers,
                record_bytes: cfg.msg_size as u64,
                stopped_by: outcome.stopped_by.as_str(),
                elapsed: std::time::Duration::from_secs_f64(s.elapsed_s),
                unresolved: outcome.unresolved,
                errors: &s.errors,
            };
            let path = file.path().display().to_string();
            file.commit(&ledger::document(tally, &facts))
                .err()
                .map(|e| format!("cannot write --ack-ledger {path}: {e}"))
        }
        _ => None,
    };
    if cfg.json {
        println!("{}", report::json_summary(s, &cfg, outcome.stopped_by, &outcome.by_producer));
    } else {
        println!("{}", report::final_line(s));
        if let Some(line) = report::errors_line(s) {
            println!("{line}");
        }
    }
    if let Some(msg) = ledger_error {
        return fail(1, &msg);
    }
    if outcome.stopped_by == report::StopReason::Fatal {
        eprintln!("stress-producer: the producer hit a fatal error and stopped early");
        return ExitCode::from(1);
    }
    if s.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("stress-producer: {}", msg.replace('\n', " "));
    ExitCode::from(code)
}

/// clap's message without its usage block: `unexpected argument '--x' found (see --help)`.
fn clap_one_line(e: &clap::Error) -> String {
    // clap's first paragraph (up to the blank line before tips and usage), e.g. a missing
    // argument's name sits on the line after "not provided:".
    let text = e.to_string();
    let para: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let msg = if para.is_empty() { "invalid arguments".to_owned() } else { para.join(" ") };
    format!("{} (see --help)", msg.trim_start_matches("error: "))
}

/// Counts SIGINT/SIGTERM on a small thread: the first stops the load (summary still printed),
/// a second abandons what is still in flight.
fn watch_signals(signals: Arc<AtomicUsize>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    // Registered here, before the load starts, so an early Ctrl-C is never the default "die".
    let (mut int, mut term) = rt.block_on(async {
        Ok::<_, std::io::Error>((signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?))
    })?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async move {
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                signals.fetch_add(1, Ordering::SeqCst);
            }
        })
    })?;
    Ok(())
}
