//! Test harness: starts the real `strata` binary on a free port (`--port 0`, address read
//! from its first log line) with a temporary data directory, and offers both a `redis` crate
//! connection and a raw RESP client for exact-bytes assertions.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const START_DEADLINE: Duration = Duration::from_secs(60);

pub struct Server {
    child: Option<Child>,
    pub addr: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: mpsc::Receiver<String>,
    /// What the server printed before it listened (config notices, recovery).
    pub startup_log: Vec<String>,
}

impl Server {
    /// A server on a fresh temporary data directory.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut s = Server::start_in(&dir, extra);
        s._tmp = Some(tmp);
        s
    }

    /// A server on `dir` (kept by the caller, for restart tests).
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.arg("server");
        if !extra.contains(&"--config") {
            cmd.args(["--port", "0", "--bind", "127.0.0.1"]);
        }
        cmd.arg("--dir").arg(dir).args(extra);
        // The test command runs the whole suite with the hot tier on and off.
        if let Ok(tier) = std::env::var("STRATA_HOT_TIER") {
            if !extra.contains(&"--hot-tier") {
                cmd.args(["--hot-tier", &tier]);
            }
        }
        Server::spawn(cmd, dir)
    }

    pub fn spawn(mut cmd: Command, dir: &Path) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let tx_err = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx_err.send(format!("stderr: {line}"));
            }
        });
        let deadline = Instant::now() + START_DEADLINE;
        let mut seen = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        break rest.split_whitespace().next().expect("address").to_string();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("strata did not start; output: {seen:#?}");
                }
            }
        };
        Server {
            child: Some(child),
            addr,
            dir: dir.to_path_buf(),
            _tmp: None,
            log: rx,
            startup_log: seen,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(&self.addr)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait (with a deadline) for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc_kill(child.id() as i32, 15);
        }
        wait_exit(&mut child)
    }

    /// Waits for the process to exit by itself (after SHUTDOWN).
    pub fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        wait_exit(&mut child)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Every log line the server printed so far (drains the log channel).
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }
}

fn wait_exit(child: &mut Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().ok()
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `check` until it is true or the deadline passes.
pub fn eventually(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// A decoded RESP reply.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<V>),
    NilArray,
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    Double(String),
    Bool(bool),
    Verbatim(String),
    Push(Vec<V>),
}

impl V {
    pub fn bulk(s: &str) -> V {
        V::Bulk(s.as_bytes().to_vec())
    }
    pub fn text(&self) -> String {
        match self {
            V::Status(s) | V::Error(s) | V::Double(s) | V::Verbatim(s) => s.clone(),
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            V::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    }
}

/// A byte stream a raw client can talk over (TCP to Strata, a Unix socket to redis-server).
pub trait Stream: Read + Write + Send {}
impl Stream for TcpStream {}
impl Stream for std::os::unix::net::UnixStream {}

/// A raw RESP connection.
pub struct Raw {
    stream: BufReader<Box<dyn Stream>>,
}

impl Raw {
    pub fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Raw {
            stream: BufReader::new(Box::new(stream)),
        }
    }

    pub fn connect_unix(path: &Path) -> Raw {
        let stream = std::os::unix::net::UnixStream::connect(path).expect("connect unix socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Raw {
            stream: BufReader::new(Box::new(stream)),
        }
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).expect("write");
    }

    pub fn encode(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Sends a command and reads its reply.
    pub fn cmd(&mut self, args: &[&str]) -> V {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_bytes(&Raw::encode(&bytes));
        self.read()
    }

    /// [`Raw::cmd`] on a connection the server may have closed (a client it killed):
    /// `None` when the write fails or the connection ends instead of a reply.
    pub fn try_cmd(&mut self, args: &[&str]) -> Option<V> {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.try_send_read(&Raw::encode(&bytes))
    }

    /// Sends an encoded command and reads its reply; `None` as in [`Raw::try_cmd`].
    pub fn try_send_read(&mut self, frame: &[u8]) -> Option<V> {
        self.stream.get_mut().write_all(frame).ok()?;
        self.try_read()
    }

    /// Sends a command that must fail; returns the error text.
    pub fn err(&mut self, args: &[&str]) -> String {
        match self.cmd(args) {
            V::Error(e) => e,
            other => panic!("expected an error from {args:?}, got {other:?}"),
        }
    }

    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stream.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches("\r\n").to_string()),
        }
    }

    /// Reads one reply; `None` when the server closed the connection.
    pub fn try_read(&mut self) -> Option<V> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let count = || rest.parse::<i64>().expect("length");
        Some(match kind {
            "+" => V::Status(rest.to_string()),
            "-" => V::Error(rest.to_string()),
            ":" => V::Int(count()),
            "$" | "=" => {
                let n = count();
                if n < 0 {
                    return Some(V::Nil);
                }
                let mut buf = vec![0; n as usize + 2];
                self.stream.read_exact(&mut buf).ok()?;
                buf.truncate(n as usize);
                if kind == "=" {
                    V::Verbatim(String::from_utf8_lossy(&buf[4..]).into_owned())
                } else {
                    V::Bulk(buf)
                }
            }
            "*" | "~" | ">" => {
                let n = count();
                if n < 0 {
                    return Some(V::NilArray);
                }
                let items: Option<Vec<V>> = (0..n).map(|_| self.try_read()).collect();
                match kind {
                    "*" => V::Array(items?),
                    "~" => V::Set(items?),
                    _ => V::Push(items?),
                }
            }
            "%" => {
                let n = count();
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let k = self.try_read()?;
                    let v = self.try_read()?;
                    pairs.push((k, v));
                }
                V::Map(pairs)
            }
            "_" => V::Nil,
            "," => V::Double(rest.to_string()),
            "#" => V::Bool(rest == "t"),
            other => panic!("unknown reply type {other}"),
        })
    }

    pub fn read(&mut self) -> V {
        self.try_read().expect("connection closed")
    }

    /// True when the server closed the connection (EOF) without sending more.
    pub fn is_closed(&mut self) -> bool {
        self.try_read().is_none()
    }
}

/// Convenience: `redis::cmd` from a slice of words.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}
