//! `strata checkpoint ...`: the backup CLI. Creates checkpoints online (through a running
//! server) or offline (on a stopped data directory), lists, verifies and restores them.
//! Every subcommand prints what it did and returns a process exit code (0 = success).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::storage::checkpoint::{self, CheckpointInfo};
use crate::storage::engine::{Engine, EngineOptions};

fn human(bytes: u64) -> String {
    crate::commands::info::human_bytes(bytes)
}

fn print_info(info: &CheckpointInfo, took: Duration) {
    println!(
        "checkpoint {}\n  sequence {}\n  size {}\n  took {:.3} s",
        info.path.display(),
        info.sequence,
        human(info.bytes),
        took.as_secs_f64()
    );
}

/// Offline: opens the stopped data directory (fails if a server holds it) and checkpoints it.
pub fn create_offline(dir: &Path, to: Option<&Path>) -> i32 {
    let started = Instant::now();
    let engine = match Engine::open(&checkpoint::db_path(dir), &EngineOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "cannot open {} (is a server running on it? use --url): {e}",
                dir.display()
            );
            return 1;
        }
    };
    let target = to.map(Path::to_path_buf).unwrap_or_else(|| {
        checkpoint::checkpoints_dir(dir).join(format!("cp-{}", crate::storage::now_ms()))
    });
    match checkpoint::create(&engine, &target) {
        Ok(info) => {
            print_info(&info, started.elapsed());
            0
        }
        Err(e) => {
            eprintln!("checkpoint failed: {e}");
            1
        }
    }
}

/// A minimal RESP exchange: sends one command, returns the reply's lines.
pub(crate) fn resp_call(
    stream: &mut BufReader<TcpStream>,
    args: &[&str],
) -> Result<Vec<String>, String> {
    let mut frame = Vec::new();
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    crate::protocol::encode_request(&mut frame, &parts);
    stream
        .get_mut()
        .write_all(&frame)
        .map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    let mut pending = 1i64;
    while pending > 0 {
        let mut line = String::new();
        if stream.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
        let line = line.trim_end().to_string();
        pending -= 1;
        match line.chars().next() {
            Some('-') => return Err(line[1..].to_string()),
            Some('*') => pending += line[1..].parse::<i64>().unwrap_or(0).max(0),
            Some('$') if line[1..].parse::<i64>().unwrap_or(-1) >= 0 => {
                // A bulk header: its payload is the next line.
                pending += 1;
                continue;
            }
            _ => {}
        }
        lines.push(line);
    }
    Ok(lines)
}

/// Online: asks the server at `url` (`redis://[:password@]host:port`) to checkpoint itself.
pub fn create_online(url: &str, to: Option<&Path>) -> i32 {
    let started = Instant::now();
    let rest = url
        .strip_prefix("redis://")
        .unwrap_or(url)
        .trim_end_matches('/');
    let (password, hostport) = match rest.rsplit_once('@') {
        Some((auth, hp)) => (
            Some(auth.rsplit(':').next().unwrap_or(auth).to_string()),
            hp,
        ),
        None => (None, rest),
    };
    let stream = match TcpStream::connect(hostport) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot connect to {hostport}: {e}");
            return 1;
        }
    };
    let mut stream = BufReader::new(stream);
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        if let Err(e) = resp_call(&mut stream, &["AUTH", &pw]) {
            eprintln!("authentication failed: {e}");
            return 1;
        }
    }
    let to_text = to.map(|p| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    });
    let mut args = vec!["STRATA.CHECKPOINT"];
    if let Some(t) = &to_text {
        args.extend(["TO", t.as_str()]);
    }
    match resp_call(&mut stream, &args) {
        Ok(lines) if lines.len() >= 4 => {
            let num = |l: &str| l.trim_start_matches(':').parse::<u64>().unwrap_or(0);
            let info = CheckpointInfo {
                path: PathBuf::from(&lines[1]),
                sequence: num(&lines[2]),
                created_ms: crate::storage::now_ms(),
                bytes: num(&lines[3]),
            };
            print_info(&info, started.elapsed());
            0
        }
        Ok(other) => {
            eprintln!("unexpected reply: {other:?}");
            1
        }
        Err(e) => {
            eprintln!("checkpoint failed: {e}");
            1
        }
    }
}

pub fn list(dir: &Path) -> i32 {
    let all = checkpoint::list(dir);
    if all.is_empty() {
        println!(
            "no checkpoints under {}",
            checkpoint::checkpoints_dir(dir).display()
        );
    }
    for c in all {
        println!(
            "{}  created_ms={}  sequence={}  size={}",
            c.path.display(),
            c.created_ms,
            c.sequence,
            human(c.bytes)
        );
    }
    0
}

pub fn verify(path: &Path) -> i32 {
    match checkpoint::verify(path) {
        Ok(report) => {
            println!("{}: OK", path.display());
            for ((db, kind), n) in &report.keys {
                println!("  db {db}: {n} {kind} keys");
            }
            println!(
                "  {} collection members, {} expiry index entries",
                report.sub_keys, report.expire_entries
            );
            0
        }
        Err(e) => {
            eprintln!("{}: CORRUPT: {e}", path.display());
            2
        }
    }
}

pub fn restore(from: &Path, dir: &Path, force: bool) -> i32 {
    match checkpoint::restore(from, dir, force) {
        Ok(()) => {
            println!(
                "restored {} into {}",
                from.display(),
                checkpoint::db_path(dir).display()
            );
            0
        }
        Err(e) => {
            eprintln!("restore refused: {e}");
            1
        }
    }
}

pub fn export(from: &Path, to: &Path) -> i32 {
    let started = Instant::now();
    match checkpoint::export(from, to) {
        Ok(bytes) => {
            println!(
                "exported {} to {} ({}, {:.3} s)",
                from.display(),
                to.display(),
                human(bytes),
                started.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => {
            eprintln!("export failed: {e}");
            1
        }
    }
}

pub fn import(archive: &Path, dir: &Path, force: bool) -> i32 {
    match checkpoint::import(archive, dir, force) {
        Ok(report) => {
            let keys: u64 = report.keys.values().sum();
            println!(
                "imported {} into {} ({keys} keys, verified)",
                archive.display(),
                checkpoint::db_path(dir).display()
            );
            0
        }
        Err(e) => {
            eprintln!("import failed: {e}");
            2
        }
    }
}
