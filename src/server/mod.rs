//! The network server: listeners, connection tasks, background maintenance (active expiry,
//! the once-a-second WAL sync of `appendfsync everysec`) and graceful shutdown.
//!
//! Shutdown (SIGTERM, SIGINT or `SHUTDOWN`): stop accepting, let connections finish the
//! batch they are running, join the maintenance threads, sync the WAL, and return so the
//! caller drops the storage, which closes RocksDB cleanly.

pub mod connection;
use crate::socket::Socket;
pub mod runtime_watchdog;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::ClientState;
use crate::state::ServerState;

/// Binds every `bind` address on `port` (0 = pick one; the others reuse the first's port).
async fn bind_all(state: &ServerState, mut port: u16) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for raw in state.config.get("bind").split_whitespace() {
        let (optional, addr) = match raw.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, raw),
        };
        let host = if addr == "*" { "0.0.0.0" } else { addr };
        match TcpListener::bind((host, port)).await {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                }
                listeners.push(l);
            }
            Err(e) if optional => tracing::warn!("could not bind optional address {addr}: {e}"),
            Err(e) => return Err(format!("could not bind {host}:{port}: {e}")),
        }
    }
    if listeners.is_empty() {
        return Err("no address to listen on (check `bind`)".into());
    }
    Ok(listeners)
}

/// Runs the server until shutdown. `boot` is when the process started (for the start-up
/// time report).
pub async fn run(state: Arc<ServerState>, boot: Instant) -> Result<(), String> {
    // `port 0` with a TLS port serves TLS only, as in Redis.
    let plain_port = state.config.get_int("port") as u16;
    let tls_port = state.config.get_int("tls-port") as u16;
    let mut listeners: Vec<(TcpListener, bool)> = Vec::new();
    if plain_port != 0 || tls_port == 0 {
        listeners.extend(
            bind_all(&state, plain_port)
                .await?
                .into_iter()
                .map(|l| (l, false)),
        );
    }
    if tls_port != 0 {
        state
            .tls
            .reload(&state.config)
            .map_err(|e| format!("Failed to configure TLS: {e}"))?;
        listeners.extend(
            bind_all(&state, tls_port)
                .await?
                .into_iter()
                .map(|l| (l, true)),
        );
    }
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter(|(_, tls)| !tls || plain_port == 0)
        .filter_map(|(l, _)| l.local_addr().ok())
        .collect();
    let tls_addrs: Vec<String> = listeners
        .iter()
        .filter(|(_, tls)| *tls)
        .filter_map(|(l, _)| l.local_addr().ok())
        .map(|a| a.to_string())
        .collect();
    if let Some(first) = addrs.first() {
        state.port.store(first.port(), Ordering::Relaxed);
    }
    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    tracing::info!(
        "Strata {} listening on {} (ready in {} ms, data in {})",
        env!("CARGO_PKG_VERSION"),
        shown.join(" "),
        boot.elapsed().as_millis(),
        state.storage.engine().path().display(),
    );
    if !tls_addrs.is_empty() {
        tracing::info!("TLS on {}", tls_addrs.join(" "));
    }
    if state.acl.default_user().rules().nopass && addrs.iter().any(|a| !a.ip().is_loopback()) {
        let guard = if state.config.get_bool("protected-mode") {
            "protected mode refuses clients that are not on the loopback interface"
        } else {
            "protected mode is off: anyone who can reach these addresses has full access"
        };
        tracing::warn!(
            "listening on a non-loopback address while the default user has no password ({guard}); \
             set requirepass or ACL users"
        );
    }

    let mut maintenance = spawn_maintenance(state.clone());
    crate::replication::replica::start_from_config(&state);
    match runtime_watchdog::spawn(state.clone(), tokio::runtime::Handle::current()) {
        Ok(handle) => maintenance.push(handle),
        Err(e) => tracing::warn!("cannot start the runtime watchdog: {e}"),
    }
    spawn_signal_handler(state.clone());

    let (tx, mut rx) = mpsc::channel::<(TcpStream, bool)>(64);
    let mut acceptors = JoinSet::new();
    for (listener, tls) in listeners {
        let tx = tx.clone();
        acceptors.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if tx.send((stream, tls)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    drop(tx);

    let mut shutdown = state.shutdown_signal();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Some((stream, tls)) = rx.recv() => accept(&state, stream, tls, &mut connections).await,
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
        if state.shutting_down.load(Ordering::SeqCst) {
            break;
        }
    }
    acceptors.abort_all();
    tracing::info!("shutting down: waiting for connections to finish");
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    state.group_commit.stop();
    for handle in maintenance {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    if let Err(e) = state.storage.engine().sync_wal() {
        tracing::error!("final WAL sync failed: {e}");
    }
    tracing::info!("Strata is now ready to exit, bye bye...");
    Ok(())
}

/// Redis 7's refusal, word for word (its typo included: clients and tools match on it).
const PROTECTED_MODE_DENIED: &[u8] =
    b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. In this mode connections are only \
accepted from the loopback interface. If you want to connect from external computers to Redis you \
may adopt one of the following solutions: 1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same \
host the server is running, however MAKE SURE Redis is not publicly accessible from internet if \
you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable \
the protected mode by editing the Redis configuration file, and setting the protected mode option \
to 'no', and then restarting the server. 3) If you started the server manually just for testing, \
restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the \
default user. NOTE: You only need to do one of the above things in order for the server to start \
accepting connections from the outside.\r\n";

/// Protected mode (Redis 7): while the default user needs no password, only loopback
/// clients are served, whatever `bind` says.
fn refused_by_protected_mode(state: &ServerState, stream: &TcpStream) -> bool {
    if !state.config.get_bool("protected-mode") || !state.acl.default_user().rules().nopass {
        return false;
    }
    let Ok(peer) = stream.peer_addr() else {
        return false;
    };
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    };
    !ip.is_loopback()
}

/// A TLS client has this long to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept(
    state: &Arc<ServerState>,
    stream: TcpStream,
    tls: bool,
    connections: &mut JoinSet<()>,
) {
    state
        .stats
        .total_connections
        .fetch_add(1, Ordering::Relaxed);
    let maxclients = state.config.get_int("maxclients").max(1) as usize;
    if state.clients.count() >= maxclients {
        state
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let mut stream = stream;
        let _ = tokio::io::AsyncWriteExt::write_all(
            &mut stream,
            b"-ERR max number of clients reached\r\n",
        )
        .await;
        return;
    }
    if refused_by_protected_mode(state, &stream) {
        state
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let mut stream = stream;
        let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, PROTECTED_MODE_DENIED).await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let keepalive = state.config.get_int("tcp-keepalive");
    if keepalive > 0 {
        let params = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive as u64));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&params);
    }
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let user = state.acl.default_user();
    let info = state.clients.register(addr, laddr, user.clone());
    // As in Redis: a connection starts as the default user, logged in when that user is
    // enabled and needs no password.
    let authenticated = state.acl.anonymous_allowed();
    let client = ClientState::new(info, authenticated, user);
    if !tls {
        connections.spawn(connection::serve(
            state.clone(),
            Socket::Plain(stream),
            client,
        ));
        return;
    }
    let Some(acceptor) = state.tls.acceptor() else {
        state.clients.unregister(client.info.id);
        return;
    };
    let state = state.clone();
    // The handshake runs in the connection's own task, so a slow or silent client cannot
    // hold up the accept loop.
    connections.spawn(async move {
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls_stream)) => {
                connection::serve(state, Socket::Tls(Box::new(tls_stream)), client).await
            }
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake with {} failed: {e}", client.info.addr);
                state.clients.unregister(client.info.id);
            }
            Err(_) => {
                tracing::debug!("TLS handshake with {} timed out", client.info.addr);
                state.clients.unregister(client.info.id);
            }
        }
    });
}

/// SIGTERM and SIGINT start a graceful shutdown.
fn spawn_signal_handler(state: Arc<ServerState>) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot install SIGTERM handler: {e}");
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
            _ = tokio::signal::ctrl_c() => tracing::warn!("Received SIGINT scheduling shutdown..."),
        }
        state.request_shutdown();
    });
}

/// Background threads: active expiry (every 1000/hz ms), and once a second the `everysec`
/// WAL sync and the `save` rules' check. Plain threads, because both block on RocksDB and key
/// locks.
fn spawn_maintenance(state: Arc<ServerState>) -> Vec<JoinHandle<()>> {
    let expiry_state = state.clone();
    let state_for_commit = state.clone();
    let expiry = std::thread::Builder::new()
        .name("strata-expire".into())
        .spawn(move || {
            let st = expiry_state;
            while !st.shutting_down.load(Ordering::SeqCst) {
                let hz = st.config.get_int("hz").clamp(1, 500) as u64;
                std::thread::sleep(Duration::from_millis(1000 / hz));
                // A paused server's dataset stays as it is (Redis stops expiry too), and a
                // replica's keys expire when its primary's deletes arrive.
                if st.pause.writes_paused(crate::storage::now_ms())
                    || st.replication.refuses_client_writes(&st.storage)
                {
                    continue;
                }
                // Keep going while whole pages come back, bounded so shutdown stays prompt.
                let started = Instant::now();
                loop {
                    match st.storage.expire_cycle(200) {
                        Ok(done) => {
                            for e in &done {
                                if let Some(db) = e.db {
                                    st.notify(crate::notify::EXPIRED, "expired", db, &e.key);
                                }
                                if st.tracking.active() {
                                    st.tracking.invalidate(&e.key, None);
                                }
                            }
                            if done.len() < 200 || started.elapsed() >= Duration::from_millis(250) {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::error!("active expiry failed: {e}");
                            break;
                        }
                    }
                    if st.shutting_down.load(Ordering::SeqCst) {
                        break;
                    }
                }
                st.latency.record(
                    crate::latency::EXPIRE_CYCLE,
                    started.elapsed().as_millis() as u64,
                    crate::storage::now_ms() / 1000,
                );
            }
        });
    let sync_state = state;
    let wal = std::thread::Builder::new()
        .name("strata-walsync".into())
        .spawn(move || {
            let st = sync_state;
            let mut last = Instant::now();
            while !st.shutting_down.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                if last.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                last = Instant::now();
                crate::commands::persistence::save_if_due(&st);
                // Writes made outside a connection (active expiry) are buffered too: hand
                // them to the OS every second, and fsync everything under `everysec`.
                let sync_started = Instant::now();
                let result = if st.config.get("appendfsync") == "everysec" {
                    st.storage.sync_committed()
                } else {
                    st.storage.engine().flush_wal_buffer()
                };
                st.latency.record(
                    crate::latency::WAL_FSYNC,
                    sync_started.elapsed().as_millis() as u64,
                    crate::storage::now_ms() / 1000,
                );
                if let Err(e) = result {
                    tracing::error!("background WAL flush failed: {e}");
                }
            }
        });
    let commit_state = state_for_commit;
    let group_commit = std::thread::Builder::new()
        .name("strata-fsync".into())
        .spawn(move || commit_state.group_commit.run(&commit_state.storage));
    [expiry, wal, group_commit]
        .into_iter()
        .filter_map(Result::ok)
        .collect()
}
