//! Connection commands, authentication, HELLO/RESP3 and CLIENT.

use crate::harness::{Server, V};

fn ok() -> V {
    V::Status("OK".into())
}

#[test]
fn ping_echo_select_quit() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["PING"]), V::Status("PONG".into()));
    assert_eq!(r.cmd(&["PING", "hi"]), V::bulk("hi"));
    assert_eq!(
        r.err(&["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(r.cmd(&["ECHO", "x y"]), V::bulk("x y"));
    assert_eq!(
        r.err(&["ECHO"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(r.cmd(&["SELECT", "15"]), ok());
    assert_eq!(r.err(&["SELECT", "16"]), "ERR DB index is out of range");
    assert_eq!(r.err(&["SELECT", "-1"]), "ERR DB index is out of range");
    assert_eq!(
        r.err(&["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(r.cmd(&["QUIT"]), ok());
    assert!(r.is_closed());
}

#[test]
fn unknown_commands_and_subcommands() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.err(&["FOO", "a", "b"]),
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        r.err(&["FOO"]),
        "ERR unknown command 'FOO', with args beginning with: "
    );
    assert_eq!(
        r.err(&["CLIENT", "FOO"]),
        "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
    );
    assert_eq!(
        r.err(&["CLIENT"]),
        "ERR wrong number of arguments for 'client' command"
    );
    assert_eq!(
        r.err(&["CLIENT", "SETNAME"]),
        "ERR wrong number of arguments for 'client|setname' command"
    );
    // the connection is still usable
    assert_eq!(r.cmd(&["PING"]), V::Status("PONG".into()));
}

#[test]
fn requirepass_and_auth() {
    let s = Server::start_with(&["--requirepass", "s3cret"]);
    let mut r = s.raw();
    assert_eq!(r.err(&["GET", "k"]), "NOAUTH Authentication required.");
    assert_eq!(r.err(&["PING"]), "NOAUTH Authentication required.");
    assert_eq!(
        r.err(&["AUTH", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        r.err(&["AUTH", "bob", "s3cret"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(r.cmd(&["AUTH", "s3cret"]), ok());
    assert_eq!(r.cmd(&["PING"]), V::Status("PONG".into()));
    let mut r2 = s.raw();
    assert_eq!(r2.cmd(&["AUTH", "default", "s3cret"]), ok());
    assert_eq!(r2.cmd(&["RESET"]), V::Status("RESET".into()));
    assert_eq!(r2.err(&["GET", "k"]), "NOAUTH Authentication required.");
    let mut r3 = s.raw();
    assert!(r3
        .err(&["HELLO", "3"])
        .starts_with("NOAUTH HELLO must be called with the client already authenticated"));
    assert!(matches!(
        r3.cmd(&["HELLO", "3", "AUTH", "default", "s3cret"]),
        V::Map(_)
    ));
    assert_eq!(r3.cmd(&["PING"]), V::Status("PONG".into()));
    // redis crate with a password URL
    let client = redis::Client::open(format!("redis://:s3cret@{}/", s.addr)).unwrap();
    let mut c = client.get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");

    let open = Server::start();
    let mut r = open.raw();
    assert_eq!(
        r.err(&["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
}

#[test]
fn hello_negotiates_resp3() {
    let s = Server::start();
    let mut r = s.raw();
    let V::Map(fields) = r.cmd(&["HELLO", "3"]) else {
        panic!("HELLO 3 replies with a map")
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.text() == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("proto"), Some(V::Int(3)));
    assert_eq!(get("server"), Some(V::bulk("redis")));
    assert_eq!(get("mode"), Some(V::bulk("standalone")));
    assert_eq!(get("role"), Some(V::bulk("master")));
    assert!(matches!(get("id"), Some(V::Int(_))));
    // RESP3 null and map shapes
    assert_eq!(r.cmd(&["GET", "missing"]), V::Nil);
    r.cmd(&["SET", "k", "v"]);
    assert!(matches!(r.cmd(&["CONFIG", "GET", "port"]), V::Map(_)));
    assert_eq!(
        r.err(&["HELLO", "4"]),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        r.err(&["HELLO", "x"]),
        "ERR Protocol version is not an integer or out of range"
    );
    let V::Array(_) = r.cmd(&["HELLO", "2", "SETNAME", "myconn"]) else {
        panic!("HELLO 2 replies with an array")
    };
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), V::bulk("myconn"));
    assert_eq!(r.cmd(&["GET", "missing"]), V::Nil);
    assert_eq!(
        r.err(&["HELLO", "3", "FOO"]),
        "ERR Syntax error in HELLO option 'FOO'"
    );
}

#[test]
fn client_subcommands() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    let V::Int(id_a) = a.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    let V::Int(id_b) = b.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    assert_ne!(id_a, id_b);
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), V::Nil);
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", "alpha"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), V::bulk("alpha"));
    assert_eq!(
        a.err(&["CLIENT", "SETNAME", "has space"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(a.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "SETINFO", "LIB-VER", "5.0.0"]), ok());
    assert_eq!(
        a.err(&["CLIENT", "SETINFO", "FOO", "x"]),
        "ERR Unrecognized option 'FOO'"
    );
    let list = a.cmd(&["CLIENT", "LIST"]).text();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.contains(&format!("id={id_a} ")) && list.contains("name=alpha"),
        "{list}"
    );
    assert!(list.contains("lib-name=redis-py lib-ver=5.0.0"), "{list}");
    let info = a.cmd(&["CLIENT", "INFO"]).text();
    assert!(
        info.starts_with(&format!("id={id_a} ")) && info.contains("cmd=client|info"),
        "{info}"
    );
    let only_b = a.cmd(&["CLIENT", "LIST", "ID", &id_b.to_string()]).text();
    assert_eq!(only_b.lines().count(), 1);
    assert_eq!(a.cmd(&["CLIENT", "NO-EVICT", "on"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "NO-TOUCH", "on"]), ok());
    assert!(a.cmd(&["CLIENT", "INFO"]).text().contains("flags=eT"));
    assert_eq!(a.err(&["CLIENT", "NO-EVICT", "maybe"]), "ERR syntax error");

    // CLIENT KILL by id: b is disconnected.
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &id_b.to_string()]),
        V::Int(1)
    );
    assert!(b.is_closed());
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", "999999"]), V::Int(0));
    assert_eq!(
        a.err(&["CLIENT", "KILL", "1.2.3.4:5"]),
        "ERR No such client"
    );
    let mut c = s.raw();
    let addr = c.cmd(&["CLIENT", "INFO"]).text();
    let addr = addr
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", &addr]), ok());
    assert!(c.is_closed());
    assert_eq!(a.cmd(&["PING"]), V::Status("PONG".into()));
    assert!(matches!(a.cmd(&["CLIENT", "HELP"]), V::Array(_)));
}

#[test]
fn client_reply_modes() {
    let s = Server::start();
    let mut r = s.raw();
    // OFF: no replies until ON (whose OK is sent).
    r.send_bytes(b"CLIENT REPLY OFF\r\nSET a 1\r\nCLIENT REPLY ON\r\n");
    assert_eq!(r.read(), ok());
    // SKIP: the next command's reply is dropped.
    r.send_bytes(b"CLIENT REPLY SKIP\r\nSET b 2\r\nGET b\r\n");
    assert_eq!(r.read(), V::bulk("2"));
    assert_eq!(r.cmd(&["GET", "a"]), V::bulk("1"));
    assert_eq!(r.err(&["CLIENT", "REPLY", "MAYBE"]), "ERR syntax error");
}

#[test]
fn idle_timeout_closes_clients() {
    let s = Server::start();
    let mut admin = s.raw();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "1"]), ok());
    let mut idle = s.raw();
    assert_eq!(idle.cmd(&["PING"]), V::Status("PONG".into()));
    // The idle client is closed by the server (read returns EOF) within the timeout.
    assert!(idle.is_closed());
    // The admin connection idled just as long and was closed too.
    assert!(admin.is_closed());
    s.raw().cmd(&["CONFIG", "SET", "timeout", "0"]);
    assert_eq!(s.raw().cmd(&["PING"]), V::Status("PONG".into()));
}

#[test]
fn maxclients_refuses_extra_connections() {
    let s = Server::start_with(&["--maxclients", "2"]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.cmd(&["PING"]), V::Status("PONG".into()));
    assert_eq!(b.cmd(&["PING"]), V::Status("PONG".into()));
    let mut c = s.raw();
    assert_eq!(
        c.read(),
        V::Error("ERR max number of clients reached".into())
    );
    assert!(c.is_closed());
    drop(b);
    crate::harness::eventually("slot frees up", std::time::Duration::from_secs(10), || {
        let mut d = s.raw();
        d.send_bytes(b"PING\r\n");
        d.read() == V::Status("PONG".into())
    });
    let info = a.cmd(&["INFO", "stats"]).text();
    assert!(info.contains("rejected_connections:"), "{info}");
}
