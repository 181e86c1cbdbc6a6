//! The one HTTP accept loop, shared by the API listener, the portal listener and the simulators.
//!
//! Why a module of its own: hyper 1.x leaves the accept loop and graceful shutdown to the
//! caller. Writing it once means every listener gets the same behaviour: connections are
//! served on their own task, on shutdown the loop stops accepting and waits (bounded) for
//! in-flight requests to finish, and no client can hold the process hostage (issue 13):
//!
//! * **Time limits.** Headers must arrive within [`Limits::header_timeout`] (hyper's timer,
//!   which also closes a keep-alive connection that sends nothing); a request body must arrive
//!   within [`Limits::body_timeout`] ([`read_body`] reads the limit from a request extension
//!   this loop adds); a response that the client does not read for
//!   [`Limits::write_timeout`] ends the connection ([`Stalls`]).
//! * **Connection caps, a budget per listener.** Each listener has its own
//!   [`Limits::max_connections`], so a flood of the portal can never take the API's slots, and
//!   [`Limits::max_per_peer`] per client address (IPv4 address, IPv6 /64: one host can use any
//!   address of its /64). A peer at its cap makes room by closing its own oldest connection
//!   when that one has been open for [`STALE_AFTER`] (a stalled or idle one), and is refused
//!   otherwise (a burst of live requests from one NAT address finishes rather than killing
//!   itself); a full listener makes room by closing the oldest connection of the peer holding
//!   the most, when that peer holds more than the newcomer would — so a guest with one
//!   connection always gets a slot from a flooder with hundreds ([`ConnTable`]).
//! * **File descriptors.** [`fit_to_fd_limit`] raises the soft `RLIMIT_NOFILE` to the hard
//!   limit at start and shrinks the caps when they would not fit beside the files the process
//!   needs anyway, so "accept failed: Too many open files" cannot starve the API.
//!
//! Memory: a connection costs its task, hyper's buffers and the handler's future; with the
//! caps that is bounded, and after a flood it is given back (see docs/benchmarks.md,
//! "Hostile guests").

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Response body used by every listener: a full buffer or a stream (SSE).
pub type Body = BoxBody<Bytes, Infallible>;

/// A whole-buffer body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// Anything that turns a request into a response. Implemented for closures.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: std::net::SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send;
}

/// How long in-flight requests get to finish after shutdown was asked for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Body time limit used when a request did not come through [`serve_with`] (tests).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// What one listener allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Name in log lines (`api`, `portal`, `simulator`).
    pub name: &'static str,
    /// Connections open at once on this listener.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv4) or /64 (IPv6).
    pub max_per_peer: usize,
    /// From the connection's first byte (or the end of the previous response) to the end of
    /// a request's headers.
    pub header_timeout: Duration,
    /// From the handler's first read to the end of the request body.
    pub body_timeout: Duration,
    /// Longest a response write may wait for the client to read.
    pub write_timeout: Duration,
    /// Largest read buffer per connection (so the largest request head); `None`: hyper's
    /// default (~400 KiB).
    pub max_buf_size: Option<usize>,
}

impl Limits {
    /// The simulators and other internal listeners: the old behaviour, large caps.
    pub fn internal() -> Limits {
        Limits {
            name: "simulator",
            max_connections: 16_384,
            max_per_peer: 16_384,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            max_buf_size: None,
        }
    }
}

/// The request extension that carries the listener's body time limit to [`read_body`].
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout(pub Duration);

/// Serve `handler` on `listener` until `shutdown` resolves, then drain in-flight connections.
/// Internal limits ([`Limits::internal`]): for the simulators.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(listener, handler, Limits::internal(), shutdown).await
}

/// Serve `handler` on `listener` with `limits` until `shutdown` resolves, then drain.
pub async fn serve_with<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    serve_any(listener, None, handler, limits, shutdown).await
}

/// A request that came over TLS carries this extension (the portal's HTTPS listener).
#[derive(Clone, Copy, Debug)]
pub struct OverTls;

/// [`serve_with`] over TLS: each connection's handshake must finish within the header time
/// limit; requests carry [`OverTls`]. The same connection table, limits and drain.
pub async fn serve_tls<H: Handler>(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handler: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    serve_any(listener, Some(acceptor), handler, limits, shutdown).await
}

async fn serve_any<H: Handler>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let tracker = TaskTracker::new();
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let table = Arc::new(Mutex::new(ConnTable::new(
        limits.max_connections,
        limits.max_per_peer,
    )));
    let mut accept_warn = RateLimitedWarn::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // EMFILE and friends: back off briefly instead of spinning, and say so
                    // once a minute rather than for every attempt.
                    if let Some(missed) = accept_warn.due(Instant::now()) {
                        tracing::warn!(listener = limits.name, error = %err, repeated = missed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admitted = lock(&table).admit(PeerKey::of(peer.ip()));
        let (id, cancel, outcome) = match admitted {
            Admission::Refused => {
                table_warn(&table, &limits, peer.ip(), "refused");
                drop(stream);
                continue;
            }
            Admission::Admitted {
                id,
                cancel,
                evicted,
            } => (id, cancel, evicted),
        };
        if let Some(evicted) = outcome {
            evicted.cancel();
            table_warn(&table, &limits, peer.ip(), "evicted an older connection");
        }
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let mut close_rx = close_rx.clone();
        let table = table.clone();
        let body_timeout = BodyTimeout(limits.body_timeout);
        let header_timeout = limits.header_timeout;
        let write_timeout = limits.write_timeout;
        let max_buf_size = limits.max_buf_size;
        let key = PeerKey::of(peer.ip());
        let tls = tls.clone();
        tracker.spawn(async move {
            let _slot = Slot {
                table: &table,
                key,
                id,
            };
            let over_tls = tls.is_some();
            let service = service_fn(move |mut req: Request<Incoming>| {
                let handler = handler.clone();
                req.extensions_mut().insert(body_timeout);
                if over_tls {
                    req.extensions_mut().insert(OverTls);
                }
                async move { Ok::<_, Infallible>(handler.handle(req, peer).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            if let Some(max) = max_buf_size {
                builder.max_buf_size(max);
            }
            match tls {
                None => {
                    let io = TokioIo::new(Stalls::new(stream, write_timeout));
                    drive(
                        builder.serve_connection(io, service),
                        &cancel,
                        &mut close_rx,
                    )
                    .await;
                }
                Some(acceptor) => {
                    let shake = tokio::select! {
                        r = tokio::time::timeout(header_timeout, acceptor.accept(stream)) => r,
                        _ = cancel.cancelled() => return,
                    };
                    let Ok(Ok(stream)) = shake else {
                        return;
                    };
                    let io = TokioIo::new(Stalls::new(stream, write_timeout));
                    drive(
                        builder.serve_connection(io, service),
                        &cancel,
                        &mut close_rx,
                    )
                    .await;
                }
            }
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = limits.name,
            "shutdown: connections still open after drain timeout"
        );
    }
}

/// Run one connection until it ends, its slot is taken back, or the drain asks it to finish.
async fn drive<C>(
    conn: C,
    cancel: &tokio_util::sync::CancellationToken,
    close_rx: &mut tokio::sync::watch::Receiver<bool>,
) where
    C: Future + GracefulShutdown,
{
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = cancel.cancelled() => {}
        _ = close_rx.changed() => {
            conn.as_mut().graceful();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {}
            }
        }
    }
}

/// hyper's `graceful_shutdown` on a pinned HTTP/1 connection, for [`drive`].
trait GracefulShutdown {
    fn graceful(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulShutdown for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

fn lock(table: &Mutex<ConnTable>) -> std::sync::MutexGuard<'_, ConnTable> {
    // Every mutation is complete before any call that could panic: keep serving.
    table.lock().unwrap_or_else(|e| e.into_inner())
}

fn table_warn(table: &Mutex<ConnTable>, limits: &Limits, ip: IpAddr, what: &'static str) {
    let mut t = lock(table);
    let open = t.total;
    if let Some(missed) = t.warn.due(Instant::now()) {
        drop(t);
        tracing::warn!(
            listener = limits.name,
            peer = %ip,
            open,
            max_connections = limits.max_connections,
            max_per_peer = limits.max_per_peer,
            repeated = missed,
            "connection limit reached: {what}"
        );
    }
}

/// Frees a connection's slot when its task ends, however it ends.
struct Slot<'a> {
    table: &'a Mutex<ConnTable>,
    key: PeerKey,
    id: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        lock(self.table).release(self.key, self.id);
    }
}

/// A warning at most once a minute, counting what it did not say.
#[derive(Debug, Default)]
struct RateLimitedWarn {
    last: Option<Instant>,
    missed: u64,
}

impl RateLimitedWarn {
    /// `Some(times not logged since the last line)` when a line is due.
    fn due(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < Duration::from_secs(60) => {
                self.missed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.missed))
            }
        }
    }
}

/// Who a connection counts against: an IPv4 address, or an IPv6 /64 (a host picks any
/// address of its /64 at will; IPv4-mapped IPv6 counts as IPv4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerKey {
    V4([u8; 4]),
    V6Net([u8; 8]),
}

impl PeerKey {
    pub fn of(ip: IpAddr) -> PeerKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => PeerKey::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut net = [0u8; 8];
                net.copy_from_slice(&v6.octets()[..8]);
                PeerKey::V6Net(net)
            }
        }
    }
}

/// A peer's connection this old may be closed to make room for the same peer's next one.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// What [`ConnTable::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Close the new connection right away.
    Refused,
    /// Serve it; `evicted` (when set) must be cancelled to make the room.
    Admitted {
        id: u64,
        cancel: CancellationToken,
        evicted: Option<CancellationToken>,
    },
}

/// One open connection: its id, when it opened, and how to close it.
#[derive(Debug)]
struct Open {
    id: u64,
    since: Instant,
    cancel: CancellationToken,
}

/// Open connections per peer, oldest first, and the fair-share admission rule.
#[derive(Debug)]
pub struct ConnTable {
    max_total: usize,
    max_per_peer: usize,
    total: usize,
    next_id: u64,
    peers: HashMap<PeerKey, VecDeque<Open>>,
    warn: RateLimitedWarn,
}

impl ConnTable {
    pub fn new(max_total: usize, max_per_peer: usize) -> ConnTable {
        ConnTable {
            max_total: max_total.max(1),
            max_per_peer: max_per_peer.max(1),
            total: 0,
            next_id: 0,
            peers: HashMap::new(),
            warn: RateLimitedWarn::default(),
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total
    }

    /// Connections open now from `key`.
    pub fn open_from(&self, key: PeerKey) -> usize {
        self.peers.get(&key).map_or(0, VecDeque::len)
    }

    /// A connection from `key` arrived now: admit it (perhaps closing an older one) or refuse.
    pub fn admit(&mut self, key: PeerKey) -> Admission {
        self.admit_at(key, Instant::now())
    }

    /// [`ConnTable::admit`] at `now`.
    pub fn admit_at(&mut self, key: PeerKey, now: Instant) -> Admission {
        let mine = self.open_from(key);
        let evicted = if mine >= self.max_per_peer {
            // At its own cap: its oldest connection makes room if it has been open a while
            // (stalled or idle: a flooder only churns itself); a burst of live requests from
            // one address is refused instead, so what is in flight finishes.
            let oldest_since = self
                .peers
                .get(&key)
                .and_then(|l| l.front())
                .map(|o| o.since);
            match oldest_since {
                Some(t) if now.saturating_duration_since(t) >= STALE_AFTER => {
                    Some(self.pop_oldest(key))
                }
                _ => return Admission::Refused,
            }
        } else if self.total >= self.max_total {
            // Full: the peer holding the most gives way, if it holds more than this one
            // would after admission.
            let heaviest = self
                .peers
                .iter()
                .max_by_key(|(_, c)| c.len())
                .map(|(k, c)| (*k, c.len()));
            match heaviest {
                Some((victim, n)) if n > mine + 1 => Some(self.pop_oldest(victim)),
                _ => return Admission::Refused,
            }
        } else {
            None
        };
        let id = self.next_id;
        self.next_id += 1;
        let cancel = CancellationToken::new();
        self.peers.entry(key).or_default().push_back(Open {
            id,
            since: now,
            cancel: cancel.clone(),
        });
        self.total += 1;
        Admission::Admitted {
            id,
            cancel,
            evicted: evicted.flatten(),
        }
    }

    fn pop_oldest(&mut self, key: PeerKey) -> Option<CancellationToken> {
        let list = self.peers.get_mut(&key)?;
        let token = list.pop_front()?.cancel;
        if list.is_empty() {
            self.peers.remove(&key);
        }
        self.total -= 1;
        Some(token)
    }

    /// The connection `id` of `key` ended (no-op when it was evicted before).
    pub fn release(&mut self, key: PeerKey, id: u64) {
        let Some(list) = self.peers.get_mut(&key) else {
            return;
        };
        if let Some(pos) = list.iter().position(|o| o.id == id) {
            list.remove(pos);
            self.total -= 1;
        }
        if list.is_empty() {
            self.peers.remove(&key);
        } else if list.capacity() > 4 * list.len().max(4) {
            list.shrink_to_fit();
        }
        if self.peers.is_empty() || self.peers.capacity() > 4 * self.peers.len().max(64) {
            self.peers.shrink_to_fit();
        }
    }
}

/// A socket whose writes fail with `TimedOut` once one has waited for the client longer than
/// the write timeout (a client that asks and never reads would otherwise hold its slot and
/// its buffers forever). Reads pass through: hyper and [`read_body`] time those.
pub struct Stalls<S> {
    inner: S,
    write_timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Stalls<S> {
    pub fn new(inner: S, write_timeout: Duration) -> Self {
        Stalls {
            inner,
            write_timeout,
            stalled: None,
        }
    }

    fn on_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let timeout = self.write_timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "client did not read the response in time",
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Stalls<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stalls<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.on_pending(cx).map(|r| r.map(|()| 0)),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.on_pending(cx).map(|r| r.map(|()| 0)),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.on_pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Pending => self.on_pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

/// The API's and the portal's limits from the configuration, fitted to the open-file limit.
pub fn listener_limits(server: &crate::config::ServerConfig) -> (Limits, Limits) {
    let timeout = Duration::from_secs(server.request_timeout_seconds);
    let mut api = Limits {
        name: "api",
        max_connections: server.api_max_connections,
        // Home Assistant is one peer (its pool, the event stream, scripts): the whole budget.
        max_per_peer: server.api_max_connections,
        header_timeout: timeout,
        body_timeout: timeout,
        // The event stream writes rarely; a reader that stops reading for this long is gone.
        write_timeout: Duration::from_secs(30),
        // Home Assistant only (token, loopback by default): hyper's default request head.
        max_buf_size: None,
    };
    let mut portal = Limits {
        name: "portal",
        max_connections: server.portal_max_connections,
        max_per_peer: server.portal_max_connections_per_address,
        header_timeout: timeout,
        body_timeout: timeout,
        write_timeout: timeout,
        // A guest's request head is well under 16 KiB; a flood of connections each growing
        // its buffer to hyper's default (~400 KiB) would not be.
        max_buf_size: Some(16 * 1024),
    };
    fit_to_fd_limit(&mut api, &mut portal);
    (api, portal)
}

/// Open files the process needs besides its listeners' connections: SQLite (database, WAL,
/// shm, one per connection), outgoing connections to the controller and Plume, stdio, the
/// runtime's own descriptors, with room to spare.
pub const FD_RESERVE: u64 = 256;

/// Fit `api` and `portal` caps to the open-file limit. When the soft `RLIMIT_NOFILE` is too
/// low for both caps plus [`FD_RESERVE`] and the hard limit is higher, raise the soft limit to
/// the hard one (as Go's runtime does at start); otherwise leave it alone (the packaged unit
/// sets both, and its system-call filter forbids `setrlimit`). Then shrink the caps to fit:
/// the API keeps its cap when it can, the portal takes what is left. Logs the result once.
pub fn fit_to_fd_limit(api: &mut Limits, portal: &mut Limits) {
    let need = (api.max_connections + portal.max_connections) as u64 + FD_RESERVE;
    let Some((soft, hard)) = nofile_limits() else {
        tracing::warn!("cannot read the open-file limit; keeping the configured connection caps");
        return;
    };
    let mut limit = soft;
    if soft < need && hard > soft {
        match rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard) {
            Ok(()) => limit = hard,
            Err(e) => tracing::warn!(error = %e, soft, hard, "cannot raise the open-file limit"),
        }
    }
    let (a, p) = fit_caps(
        limit,
        api.max_connections as u64,
        portal.max_connections as u64,
    );
    if a < api.max_connections as u64 || p < portal.max_connections as u64 {
        tracing::warn!(
            open_file_limit = limit,
            api_max_connections = a,
            portal_max_connections = p,
            "the open-file limit is low: connection caps lowered to fit (raise LimitNOFILE)"
        );
    } else {
        tracing::debug!(
            open_file_limit = limit,
            api_max_connections = a,
            portal_max_connections = p,
            "connection caps fit the open-file limit"
        );
    }
    api.max_connections = a as usize;
    portal.max_connections = p as usize;
    api.max_per_peer = api.max_per_peer.min(api.max_connections);
    portal.max_per_peer = portal.max_per_peer.min(portal.max_connections);
}

/// (soft, hard) `RLIMIT_NOFILE`, read from `/proc/self/limits` (a file read: no system call a
/// seccomp filter could refuse); `u64::MAX` for "unlimited".
fn nofile_limits() -> Option<(u64, u64)> {
    parse_nofile(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

fn parse_nofile(limits: &str) -> Option<(u64, u64)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut words = line["Max open files".len()..].split_whitespace();
    let value = |w: Option<&str>| match w? {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    };
    Some((value(words.next())?, value(words.next())?))
}

/// The caps that fit `limit` open files: the API keeps up to a quarter of what is available
/// (at least 16 when there is room at all), the portal gets the rest. Pure, for tests.
pub fn fit_caps(limit: u64, api: u64, portal: u64) -> (u64, u64) {
    let available = limit.saturating_sub(FD_RESERVE).max(32);
    if api + portal <= available {
        return (api, portal);
    }
    let a = api.min((available / 4).max(16));
    let p = portal.min(available.saturating_sub(a)).max(16);
    (a, p)
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Incoming>, std::net::SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: std::net::SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send {
        (self)(req, peer)
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit. `drained`: the rest was read and thrown away, so the connection can
    /// stay open; otherwise the caller must answer with `Connection: close`.
    TooLarge { drained: bool },
    /// The client's stream broke.
    Broken,
    /// The body did not arrive within the listener's body time limit: answer with
    /// `Connection: close` (408).
    TimedOut,
}

/// Bodies this large are still read (and discarded) after a 413, to keep keep-alive working.
pub const DRAIN_CAP: usize = 1024 * 1024;

/// Read a request body up to `limit` bytes, within the listener's body time limit
/// ([`BodyTimeout`] extension; [`DEFAULT_BODY_TIMEOUT`] without one).
pub async fn read_body(
    req: Request<Incoming>,
    limit: usize,
) -> Result<(http::request::Parts, Bytes), (http::request::Parts, BodyError)> {
    let timeout = req
        .extensions()
        .get::<BodyTimeout>()
        .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, collect(&parts, body, limit)).await {
        Ok(Ok(bytes)) => Ok((parts, bytes)),
        Ok(Err(e)) => Err((parts, e)),
        Err(_) => Err((parts, BodyError::TimedOut)),
    }
}

async fn collect(
    parts: &http::request::Parts,
    mut body: Incoming,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large_already = declared.is_some_and(|len| len > limit as u64);
    if declared.is_some_and(|len| len > DRAIN_CAP as u64) {
        return Err(BodyError::TooLarge { drained: false });
    }
    // Nothing is reserved up front: a connection that announces a body and sends none must
    // not cost the announced size (thousands of them would).
    let mut buf = bytes::BytesMut::new();
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > DRAIN_CAP {
                return Err(BodyError::TooLarge { drained: false });
            }
            if !too_large_already && seen <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if too_large_already || seen > limit {
        return Err(BodyError::TooLarge { drained: true });
    }
    Ok(buf.freeze())
}

/// Mark a response so the connection closes after it (the request body was not read).
pub fn close_connection(resp: &mut hyper::Response<Body>) {
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> PeerKey {
        PeerKey::of(s.parse().unwrap())
    }

    fn admitted(a: Admission) -> (u64, CancellationToken, Option<CancellationToken>) {
        match a {
            Admission::Admitted {
                id,
                cancel,
                evicted,
            } => (id, cancel, evicted),
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn a_peer_at_its_cap_closes_its_own_stale_oldest_or_is_refused() {
        let mut t = ConnTable::new(100, 3);
        let a = v4("10.0.0.1");
        let t0 = Instant::now();
        let first = admitted(t.admit_at(a, t0));
        admitted(t.admit_at(a, t0));
        admitted(t.admit_at(a, t0));
        // A burst: the three are live (young), the fourth is refused, nothing is cut.
        assert!(matches!(
            t.admit_at(a, t0 + Duration::from_millis(10)),
            Admission::Refused
        ));
        assert!(!first.1.is_cancelled());
        // A second later the oldest counts as stalled and makes room.
        let (_, _, evicted) = admitted(t.admit_at(a, t0 + STALE_AFTER));
        let evicted = evicted.expect("own oldest makes room");
        evicted.cancel();
        assert!(first.1.is_cancelled(), "the oldest one was chosen");
        assert_eq!(t.open_from(a), 3);
        assert_eq!(t.open(), 3);
        // Its task ends later and releases a slot that is no longer counted: no double free.
        t.release(a, first.0);
        assert_eq!(t.open(), 3);
    }

    #[test]
    fn a_full_listener_takes_from_the_heaviest_peer_never_from_the_light() {
        let mut t = ConnTable::new(10, 8);
        let flooder = v4("10.0.0.66");
        for _ in 0..8 {
            admitted(t.admit(flooder));
        }
        let guest = v4("10.0.0.7");
        admitted(t.admit(guest));
        admitted(t.admit(v4("10.0.0.8")));
        assert_eq!(t.open(), 10);
        // Full: a newcomer with nothing takes a flooder's slot.
        let (_, _, ev) = admitted(t.admit(v4("10.0.0.9")));
        assert!(ev.is_some());
        assert_eq!(t.open_from(flooder), 7);
        // The flooder cannot take a light peer's slot: it already holds the most.
        assert!(matches!(t.admit(flooder), Admission::Refused));
        assert_eq!(t.open_from(guest), 1);
        // Peers of equal weight refuse each other rather than churn.
        let mut even = ConnTable::new(2, 2);
        admitted(even.admit(v4("10.0.0.1")));
        admitted(even.admit(v4("10.0.0.2")));
        assert!(matches!(even.admit(v4("10.0.0.3")), Admission::Refused));
    }

    #[test]
    fn ipv6_peers_count_per_64_and_mapped_v4_as_v4() {
        assert_eq!(
            PeerKey::of("2001:db8:1:2::1".parse().unwrap()),
            PeerKey::of("2001:db8:1:2:ffff:1:2:3".parse().unwrap())
        );
        assert_ne!(
            PeerKey::of("2001:db8:1:2::1".parse().unwrap()),
            PeerKey::of("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            PeerKey::of("::ffff:10.0.0.7".parse().unwrap()),
            v4("10.0.0.7")
        );
    }

    #[test]
    fn release_forgets_empty_peers() {
        let mut t = ConnTable::new(10, 10);
        let mut ids = vec![];
        for i in 0..10 {
            let (id, _, _) = admitted(t.admit(v4(&format!("10.0.1.{i}"))));
            ids.push(id);
        }
        for (i, id) in ids.into_iter().enumerate() {
            t.release(v4(&format!("10.0.1.{i}")), id);
        }
        assert_eq!(t.open(), 0);
        assert!(t.peers.is_empty());
    }

    #[test]
    fn caps_fit_the_open_file_limit() {
        // Plenty of room: unchanged.
        assert_eq!(fit_caps(65_536, 256, 2048), (256, 2048));
        // The default soft limit of 1,024: the API keeps 192, the portal gets the rest,
        // and both together stay under the limit with the reserve.
        let (a, p) = fit_caps(1024, 256, 2048);
        assert_eq!((a, p), (192, 576));
        assert!(a + p + FD_RESERVE <= 1024);
        // Absurdly low limits still leave something to serve with.
        let (a, p) = fit_caps(64, 256, 2048);
        assert!(a >= 16 && p >= 16);
    }

    #[test]
    fn the_open_file_limit_is_read_from_proc() {
        let sample = "Limit                     Soft Limit           Hard Limit           Units     \nMax processes             95046                95046                processes \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_nofile(sample), Some((1024, 524_288)));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_nofile(unlimited), Some((u64::MAX, u64::MAX)));
        assert_eq!(parse_nofile("nothing here"), None);
        assert!(nofile_limits().is_some_and(|(s, h)| s > 0 && h >= s));
    }

    #[test]
    fn warnings_are_rate_limited() {
        let mut w = RateLimitedWarn::default();
        let t0 = Instant::now();
        assert_eq!(w.due(t0), Some(0));
        assert_eq!(w.due(t0 + Duration::from_secs(1)), None);
        assert_eq!(w.due(t0 + Duration::from_secs(2)), None);
        assert_eq!(w.due(t0 + Duration::from_secs(61)), Some(2));
    }
}
