//! Per-connection client state and the registry behind `CLIENT LIST`/`KILL`/`INFO clients`.
//!
//! [`ClientState`] is owned by one connection task and handed to command handlers; the part
//! other clients may read or act on (`CLIENT LIST`, `CLIENT KILL`) is the shared
//! [`ClientInfo`]. Depends on nothing above it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// `CLIENT REPLY` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Suppress the reply of the next command only.
    Skip,
}

/// What other connections may see of a client.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    /// Milliseconds since `created` of the last command.
    pub last_active_ms: AtomicU64,
    pub last_cmd: Mutex<&'static str>,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    killed: AtomicBool,
    kill_signal: Notify,
    /// Set while the client waits in a blocking command.
    pub blocked: AtomicBool,
    /// Woken when a key the client waits on may have data, or by `CLIENT UNBLOCK`.
    pub wake: Notify,
    /// `CLIENT UNBLOCK` request: `Some(true)` = with an error, `Some(false)` = as a timeout.
    pub unblock: Mutex<Option<bool>>,
    /// A watched key was written since `WATCH`: the next `EXEC` fails.
    pub watch_dirty: AtomicBool,
    /// Subscription counts shown by `CLIENT LIST` (channels, patterns, shard channels).
    pub subscriptions: [AtomicUsize; 3],
    /// The connection's message queue (pub/sub, MONITOR, invalidations), set once when the
    /// connection starts; other clients' tracking redirects deliver through it.
    pub queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<crate::pubsub::PubMessage>>,
    /// For `CLIENT LIST`: commands queued since MULTI (-1 outside a transaction), whether
    /// the client is a MONITOR, and its tracking redirect (-1: not tracking, 0: to itself).
    pub multi: std::sync::atomic::AtomicI64,
    pub monitoring: AtomicBool,
    pub redir: std::sync::atomic::AtomicI64,
    /// The ACL user the client is authenticated as (`CLIENT LIST user=`, `CLIENT KILL
    /// USER`, and closing the clients of a deleted user).
    pub user: Mutex<Arc<crate::acl::User>>,
    /// Bytes of pushed messages (pub/sub, MONITOR, invalidations) queued for the client and
    /// not yet written to its socket: what `client-output-buffer-limit` bounds.
    pub output_bytes: AtomicUsize,
    /// Unix ms since which `output_bytes` has been over the soft limit (0: it is not).
    pub soft_limit_since_ms: AtomicU64,
}

impl ClientInfo {
    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    pub fn touch(&self) {
        self.last_active_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Asks the owning connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_signal.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves when [`ClientInfo::kill`] was called.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill_signal.notified().await;
        }
    }

    /// `CLIENT LIST` flags of this client.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        let on = |flag: &AtomicBool| flag.load(Ordering::Relaxed);
        // Redis's letters, in its order.
        if on(&self.monitoring) {
            f.push('O');
        }
        if self
            .subscriptions
            .iter()
            .any(|n| n.load(Ordering::Relaxed) > 0)
        {
            f.push('P');
        }
        if self.multi.load(Ordering::Relaxed) >= 0 {
            f.push('x');
        }
        if on(&self.blocked) {
            f.push('b');
        }
        if self.redir.load(Ordering::Relaxed) >= 0 {
            f.push('t');
        }
        if on(&self.watch_dirty) {
            f.push('d');
        }
        if on(&self.no_evict) {
            f.push('e');
        }
        if on(&self.no_touch) {
            f.push('T');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One `CLIENT LIST` line, in Redis 7's field order.
    pub fn describe(&self, flags: &str) -> String {
        let age = self.created.elapsed().as_secs();
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} \
             ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 \
             oll=0 omem={} tot-mem=1024 events=r cmd={} user={} redir={} resp={} \
             lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.name.lock(),
            age,
            self.idle_secs(),
            flags,
            self.db.load(Ordering::Relaxed),
            self.subscriptions[0].load(Ordering::Relaxed),
            self.subscriptions[1].load(Ordering::Relaxed),
            self.subscriptions[2].load(Ordering::Relaxed),
            self.multi.load(Ordering::Relaxed),
            self.output_bytes.load(Ordering::Relaxed),
            self.last_cmd.lock(),
            self.user.lock().name,
            self.redir.load(Ordering::Relaxed),
            self.resp.load(Ordering::Relaxed),
            self.lib_name.lock(),
            self.lib_ver.lock(),
        )
    }
}

/// Connection-local state, mutated by connection commands.
pub struct ClientState {
    pub info: Arc<ClientInfo>,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    /// The ACL user whose permissions the gate checks (the default user until `AUTH`).
    pub user: Arc<crate::acl::User>,
    /// This connection's copy of the user's rules and the generation it was taken at.
    rules_cache: Option<(u64, Arc<crate::acl::UserRules>)>,
    /// `EXEC` is running the client's queued commands (`ACL LOG` context `multi`).
    pub in_exec: bool,
    pub reply_mode: ReplyMode,
    /// Close the connection after sending the current batch's replies (`QUIT`).
    pub close_after_reply: bool,
    /// Close at once without replying (`SHUTDOWN`, `CLIENT KILL` of oneself).
    pub close_now: bool,
    /// Set by a blocking command that found nothing: the connection parks the client.
    pub block: Option<crate::blocking::BlockRequest>,
    /// Blocking commands answer at once instead of parking (inside `EXEC` and scripts, as
    /// Redis's `CLIENT_DENY_BLOCKING`): nothing could wake the client while it holds the
    /// exclusive lock, and a script's client has no connection to park.
    pub deny_blocking: bool,
    /// This is a script's client: MONITOR shows its commands as coming from `lua`.
    pub in_script: bool,
    /// Set by the gate when `CLIENT PAUSE` held the command back: it did not run, and the
    /// connection waits for the pause to end before running it again.
    pub held_by_pause: bool,
    /// The command being run was read from this client's socket (not a blocked command
    /// woken up, nor a replay): only those are held back by `CLIENT PAUSE`.
    pub pausable: bool,
    /// `CLIENT TRACKING ON` options (the server's table holds the delivery side).
    pub tracking: Option<TrackingOptions>,
    /// `CLIENT CACHING yes|no` for the next command.
    pub caching: Option<bool>,
    /// The running command emptied whole databases (FLUSHDB/FLUSHALL/SWAPDB): tracking
    /// clients must drop everything they cached.
    pub flushed: bool,
    /// A write command of the current reply batch succeeded: its replies may not leave
    /// unless the WAL is durable (`appendfsync always`).
    pub batch_wrote: bool,
    /// What the running command's handler reported it changed (see [`Effect`]); drained by
    /// the dispatch gate after each command, so it only keeps its capacity between them.
    ///
    /// [`Effect`]: crate::notify::Effect
    pub effects: Vec<crate::notify::Effect>,
    /// Commands queued since `MULTI`; `None` outside a transaction.
    pub multi: Option<Vec<Vec<bytes::Bytes>>>,
    /// A command failed to queue: `EXEC` must abort.
    pub multi_error: bool,
    /// Watched (db, key) pairs with the key's expiry deadline at `WATCH` time (0 = none).
    pub watched: Vec<(usize, Vec<u8>, u64)>,
    /// Subscribed channels and patterns, in subscription order.
    pub channels: Vec<bytes::Bytes>,
    pub patterns: Vec<bytes::Bytes>,
    pub shard_channels: Vec<bytes::Bytes>,
    /// Where published messages for this client are queued (the connection drains it).
    pub pubsub_queue: Option<tokio::sync::mpsc::Sender<crate::pubsub::PubMessage>>,
    /// The port a replica said it listens on (`REPLCONF listening-port`).
    pub listening_port: u16,
    /// The address a replica announced (`REPLCONF ip-address`, `replica-announce-ip`).
    pub announced_ip: Option<String>,
    /// Set by a command whose answer the connection must wait for (`WAIT`) or that turns
    /// the connection into a replica link (`PSYNC`).
    pub handoff: Option<Handoff>,
    /// The link applying a Redis primary's command stream (Redis's `CLIENT_MASTER`): its
    /// writes pass on a replica.
    pub primary_link: bool,
}

/// Work a command hands to its connection, which awaits it without holding a thread.
#[derive(Debug, Clone)]
pub enum Handoff {
    /// Feed a replica: `replid` and the first offset it lacks (`?` / -1 for none).
    Psync {
        replid: String,
        next: i64,
        /// `PSYNC ... FAILOVER`: promote this node first (see `replication::failover`).
        failover: bool,
    },
    /// Answer `SYNC` with an RDB of the dataset (`redis-cli --rdb`), then close.
    RdbSnapshot,
    /// Answer with the number of replicas that acknowledged `offset`, once `replicas` did
    /// or `timeout_ms` passed (0: no timeout).
    Wait {
        offset: u64,
        replicas: usize,
        timeout_ms: u64,
    },
}

impl ClientState {
    pub fn new(
        info: Arc<ClientInfo>,
        authenticated: bool,
        user: Arc<crate::acl::User>,
    ) -> ClientState {
        ClientState {
            info,
            db: 0,
            resp3: false,
            authenticated,
            user,
            rules_cache: None,
            in_exec: false,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            close_now: false,
            block: None,
            deny_blocking: false,
            in_script: false,
            held_by_pause: false,
            pausable: false,
            tracking: None,
            caching: None,
            flushed: false,
            batch_wrote: false,
            listening_port: 0,
            announced_ip: None,
            handoff: None,
            primary_link: false,
            effects: Vec::new(),
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            channels: Vec::new(),
            patterns: Vec::new(),
            shard_channels: Vec::new(),
            pubsub_queue: None,
        }
    }

    /// Publishes the MULTI queue length for `CLIENT LIST` (-1 outside a transaction).
    pub fn sync_multi_count(&self) {
        let n = self.multi.as_ref().map_or(-1, |q| q.len() as i64);
        self.info.multi.store(n, Ordering::Relaxed);
    }

    /// Subscriptions (channels + patterns), as the subscribe replies count them.
    /// Publishes this client's subscription counts for `CLIENT LIST`.
    pub fn sync_subscription_counts(&self) {
        let counts = [
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
        ];
        for (slot, n) in self.info.subscriptions.iter().zip(counts) {
            slot.store(n, Ordering::Relaxed);
        }
    }

    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether any subscription (shard channels included) puts a RESP2 client in
    /// subscribed mode.
    pub fn is_subscribed(&self) -> bool {
        self.subscription_count() + self.shard_channels.len() > 0
    }

    /// Authenticates the client as `user` (AUTH, HELLO AUTH).
    pub fn log_in(&mut self, user: Arc<crate::acl::User>) {
        self.set_user(user);
        self.authenticated = true;
    }

    /// Switches the connection to `user` (AUTH, RESET).
    pub fn set_user(&mut self, user: Arc<crate::acl::User>) {
        *self.info.user.lock() = user.clone();
        self.user = user;
        self.rules_cache = None;
    }

    /// The user's rules, from this connection's copy unless they changed since (borrowed:
    /// not even the copy's reference count is touched per command).
    pub fn user_rules(&mut self) -> &crate::acl::UserRules {
        let generation = self.user.generation();
        if self
            .rules_cache
            .as_ref()
            .is_none_or(|(g, _)| *g != generation)
        {
            self.rules_cache = None;
        }
        let user = &self.user;
        &self.rules_cache.get_or_insert_with(|| user.snapshot()).1
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }

    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
        self.info
            .resp
            .store(if resp3 { 3 } else { 2 }, Ordering::Relaxed);
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl ClientRegistry {
    pub fn register(
        &self,
        addr: String,
        laddr: String,
        user: Arc<crate::acl::User>,
    ) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_active_ms: AtomicU64::new(0),
            last_cmd: Mutex::new("NULL"),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
            blocked: AtomicBool::new(false),
            wake: Notify::new(),
            unblock: Mutex::new(None),
            watch_dirty: AtomicBool::new(false),
            subscriptions: Default::default(),
            queue: std::sync::OnceLock::new(),
            multi: std::sync::atomic::AtomicI64::new(-1),
            monitoring: AtomicBool::new(false),
            redir: std::sync::atomic::AtomicI64::new(-1),
            user: Mutex::new(user),
            output_bytes: AtomicUsize::new(0),
            soft_limit_since_ms: AtomicU64::new(0),
        });
        self.clients.lock().insert(id, info.clone());
        info
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    pub fn count(&self) -> usize {
        self.clients.lock().len()
    }
}

/// A client's `CLIENT TRACKING ON` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingOptions {
    /// Client id that receives the invalidations instead (`REDIRECT`).
    pub redirect: Option<u64>,
    pub bcast: bool,
    pub prefixes: Vec<bytes::Bytes>,
    pub optin: bool,
    pub optout: bool,
    /// No invalidations for keys this client modified itself.
    pub noloop: bool,
}
