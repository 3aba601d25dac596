//! Configuration file, command-line overrides, CONFIG REWRITE and rename-command.

use std::process::Command;

use crate::harness::{Server, V};

#[test]
fn config_file_with_include_quotes_and_rename() {
    let tmp = tempfile::tempdir().unwrap();
    let inc = tmp.path().join("extra.conf");
    std::fs::write(&inc, "hz 25\n").unwrap();
    let conf = tmp.path().join("strata.conf");
    std::fs::write(
        &conf,
        format!(
            "# a comment that must survive CONFIG REWRITE\nbind 127.0.0.1\nport 0\ndatabases 4\n\
             requirepass \"pa ss\"\ninclude {}\nrename-command FLUSHALL NUKE\n\
             rename-command DEBUG \"\"\ntimeout 0\n",
            inc.display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &["--config", conf.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["AUTH", "pa ss"]), V::Status("OK".into()));
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "hz"]),
        V::Array(vec![V::bulk("hz"), V::bulk("25")])
    );
    assert_eq!(r.err(&["SELECT", "4"]), "ERR DB index is out of range");
    assert!(r
        .err(&["FLUSHALL"])
        .starts_with("ERR unknown command 'FLUSHALL'"));
    assert!(r
        .err(&["DEBUG", "SLEEP", "0"])
        .starts_with("ERR unknown command 'DEBUG'"));
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["NUKE"]), V::Status("OK".into()));
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(0));

    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "300", "appendfsync", "always"]),
        V::Status("OK".into())
    );
    assert_eq!(r.cmd(&["CONFIG", "REWRITE"]), V::Status("OK".into()));
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("# a comment that must survive CONFIG REWRITE"),
        "{text}"
    );
    assert!(text.contains("\ntimeout 300\n"), "{text}");
    assert!(text.contains("appendfsync always"), "{text}");
    assert!(text.contains("rename-command FLUSHALL NUKE"), "{text}");
    assert!(!text.contains("timeout 0"), "{text}");
}

#[test]
fn unknown_directive_is_a_startup_error_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("bad.conf");
    std::fs::write(&conf, "port 0\n\nmaxmemroy 1gb\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["server", "--config", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:3") && err.contains("maxmemroy"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["server", "--port", "0", "--appendfsync", "sometimes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("appendfsync"));
}

#[test]
fn port_zero_logs_the_bound_address_first() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(&tmp.path().join("d"), &["--databases", "2"]);
    let port: u16 = s.addr.rsplit(':').next().unwrap().parse().unwrap();
    assert!(port > 0);
    let mut r = s.raw();
    assert_eq!(r.err(&["SELECT", "2"]), "ERR DB index is out of range");
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "databases"]),
        V::Array(vec![V::bulk("databases"), V::bulk("2")])
    );
}

#[test]
fn shipped_config_file_is_valid() {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/config/strata.conf");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start_in(&data, &["--config", conf, "--port", "0"]);
    assert_eq!(s.raw().cmd(&["PING"]), V::Status("PONG".into()));
}

#[test]
fn logfile_receives_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("strata.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["server", "--port", "0", "--bind", "127.0.0.1", "--logfile"])
        .arg(&log)
        .arg("--dir")
        .arg(tmp.path().join("data"))
        .spawn()
        .unwrap();
    let mut text = String::new();
    crate::harness::eventually(
        "log file written",
        std::time::Duration::from_secs(60),
        || {
            text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("listening on ")
        },
    );
    let _ = child.kill();
    let _ = child.wait();
    let addr = text
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{text}");
}
