//! Test support: a fake Kafka `bin` directory whose tools log their arguments and print canned
//! output, so the scripts of this crate run for real under `sh` in unit tests.

use super::{BootstrapServers, CommandConfigPath, KafkaBinDir, KafkaClient, Script};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct FakeKafka {
    dir: PathBuf,
}

impl FakeKafka {
    /// A fresh directory, unique per test name and process.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("autoheal-fake-kafka-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    /// Installs tool `name`: it appends `name args...` to `calls.log`, then runs `body` (sh).
    pub fn tool(&self, name: &str, body: &str) {
        let path = self.dir.join(name);
        let script = format!("#!/bin/sh\necho \"{name} $*\" >> '{}/calls.log'\n{body}\n", self.dir.display());
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Every tool call so far, in order.
    pub fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("calls.log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    pub fn run(&self, script: &Script) -> (i32, String, String) {
        self.run_text(&script.text(), &[])
    }

    /// Runs a script text under `sh` in this directory with extra environment; (exit, stdout, stderr).
    pub fn run_text(&self, text: &str, env: &[(&str, &str)]) -> (i32, String, String) {
        let file = self.dir.join("script.sh");
        fs::write(&file, text).unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg(&file).current_dir(&self.dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn bin_dir(&self) -> KafkaBinDir {
        KafkaBinDir::parse(self.dir.to_str().unwrap()).expect("temp dir is a safe path")
    }

    /// A client using this directory, two brokers and a command-config file.
    pub fn client(&self) -> KafkaClient {
        KafkaClient {
            bin_dir: self.bin_dir(),
            bootstrap_servers: BootstrapServers::parse("b-1.demo:9098,b-2.demo:9098").unwrap(),
            command_config: Some(CommandConfigPath::parse("/etc/kafka/client.properties").unwrap()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for FakeKafka {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
