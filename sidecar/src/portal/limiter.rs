//! Brute-force limiter for code attempts (DESIGN §5, §10; issue 13). The design, its numbers
//! and the trade-offs are written down in `docs/security.md`; in short:
//!
//! **An attempt is paid for before the code is looked at.** [`Limiter::reserve`] checks every
//! budget the attempt falls under and, in the same critical section, counts it as a failure;
//! the [`Reservation`] is then settled: [`Reservation::succeeded`] refunds it (and forgets the
//! device's failures), [`Reservation::failed`] — or dropping it unsettled — keeps it. So N
//! parallel tries cost N attempts and at most the budget is ever evaluated.
//!
//! **Keys an attacker cannot multiply, that do not punish the neighbours.** Failures count
//! (sliding window, default 10 min) against:
//! * the **device**: the MAC of the redirect *together with* the peer address (the page token
//!   binds both, §10): default 5. Typing another guest's MAC into the form from another
//!   address locks only that (MAC, address) pair, never the victim's own.
//! * the **address**: the peer's IPv4 address or full IPv6 address: default 30, six devices'
//!   worth of typos, so a household behind one NAT address is not locked by one guest's five.
//! * the **IPv6 /64** (a host can take any address of its /64, so the /128 alone multiplies):
//!   four times the address budget.
//!
//! Reaching any of these locks that key out for every code until a slot frees.
//!
//! **Short codes have a budget per unit.** A code of at most [`SHORT_CODE_MAX_LEN`] characters
//! (booking/door codes: 4 digits by default in Rental Control) lives in a space small enough to
//! walk, so wrong attempts *with a short code* also count against every unit whose network the
//! attempt comes from (default 10 per 24 h; no unit matched = one shared bucket). When the
//! budget is spent, short codes are refused on that unit; long codes never count against it
//! and are never refused by it. On a unit that requires a last name with short codes, an
//! attempt that carries one ([`Attempt::second_factor`]) counts against the budget of (unit,
//! that name) instead, and is not stopped by the global ceiling: only someone who knows the
//! guest's name can spend the budget the guest needs, and a guest who types their name gets
//! in while strangers have spent the unit's own budget (docs/security.md §3).
//!
//! **The global ceiling is not a house-wide lockout.** Past `global_max_per_minute` wrong
//! attempts a minute (all keys), the portal only stops evaluating short codes; a guest typing a
//! valid long voucher code still gets in (the per-key budgets still apply to everyone).
//!
//! **Every lockout is logged once**, when it starts, with its scope and key
//! ([`Scope`]); a key that drops below its budget may be logged again next time.
//!
//! Memory is bounded by [`LimiterConfig::max_keys`] (default 50 000 keys; a key holds at most
//! its budget of timestamps). When an insert finds the table full, expired entries go and, if
//! the table is still above three quarters full, the entries with the oldest last failure go.
//! The sweep is O(n) and runs at most once per n/4 inserts.
//!
//! Time is an injected [`Instant`] so tests can move it; all arithmetic saturates, so a caller
//! passing a slightly earlier `now` than a previous call does no harm.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::net::Mac;

const GLOBAL_WINDOW: Duration = Duration::from_secs(60);
/// The window of the per-unit short-code budget.
pub const SHORT_CODE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// What counts as a short code is the domain's rule.
pub use crate::vouchers::code::{is_short, SHORT_CODE_MAX_LEN};
/// The IPv6 /64 budget is this many times the address budget.
pub const V6_NETWORK_FACTOR: u32 = 4;

#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Failures per device (MAC + peer address) inside `window` before it is locked.
    pub max_failures: u32,
    pub window: Duration,
    /// Failures per peer address inside `window` (the IPv6 /64 gets [`V6_NETWORK_FACTOR`]×).
    pub max_failures_per_address: u32,
    /// Failures per minute, all keys together, past which short codes are not evaluated.
    pub global_max_per_minute: u32,
    /// Wrong short-code attempts per unit within [`SHORT_CODE_WINDOW`].
    pub short_code_failures_per_day: u32,
    /// Most keys (devices + addresses + networks) remembered at once.
    pub max_keys: usize,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            max_failures: 5,
            window: Duration::from_secs(600),
            max_failures_per_address: 30,
            global_max_per_minute: 600,
            short_code_failures_per_day: 10,
            max_keys: 50_000,
        }
    }
}

/// Which budget said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This device (MAC + address).
    Device,
    /// This peer address (everyone behind it).
    Address,
    /// This IPv6 /64.
    Network,
    /// Short codes on this unit.
    UnitShortCodes,
    /// Short codes with this last name on this unit (its second factor).
    UnitShortCodesNamed,
    /// Short codes everywhere (the global ceiling).
    Global,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Device => "device",
            Scope::Address => "address",
            Scope::Network => "ipv6_network",
            Scope::UnitShortCodes => "unit_short_codes",
            Scope::UnitShortCodesNamed => "unit_short_codes_named",
            Scope::Global => "global_short_codes",
        }
    }
}

/// "Not now": how long until an attempt is allowed again, and which budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub retry_after: Duration,
    pub scope: Scope,
}

/// One code attempt, as the limiter sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The MAC of the redirect (bound to `peer` by the page token).
    pub mac: &'a Mac,
    /// The address the portal sees.
    pub peer: IpAddr,
    /// Units on whose network the attempt comes (their short-code budgets apply).
    pub units: &'a [&'a str],
    /// The normalised code has at most [`SHORT_CODE_MAX_LEN`] characters.
    pub short: bool,
    /// A short code typed with the last name its units require (folded): counted against
    /// (unit, name) instead of the unit, and not stopped by the global ceiling.
    pub second_factor: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Device([u8; 6], IpAddr),
    Address(IpAddr),
    V6Net([u8; 8]),
}

impl Key {
    fn scope(&self) -> Scope {
        match self {
            Key::Device(..) => Scope::Device,
            Key::Address(_) => Scope::Address,
            Key::V6Net(_) => Scope::Network,
        }
    }
}

fn keys_of(mac: &Mac, peer: IpAddr) -> Vec<Key> {
    let ip = peer.to_canonical();
    let mut keys = vec![Key::Device(mac.octets(), ip), Key::Address(ip)];
    if let IpAddr::V6(v6) = ip {
        let mut net = [0u8; 8];
        net.copy_from_slice(&v6.octets()[..8]);
        keys.push(Key::V6Net(net));
    }
    keys
}

/// Failure times of one key inside its window, oldest first, at most its budget.
#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    /// The lockout that started at the budget has been logged.
    announced: bool,
}

impl Entry {
    fn prune(&mut self, now: Instant, window: Duration, max: u32) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.failures.pop_front();
        }
        if self.failures.len() < max as usize {
            self.announced = false;
        }
    }
    fn last(&self) -> Option<Instant> {
        self.failures.back().copied()
    }
    /// Take back one reservation made at `at`.
    fn refund(&mut self, at: Instant) {
        if let Some(pos) = self.failures.iter().rposition(|t| *t == at) {
            self.failures.remove(pos);
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<Key, Entry>,
    /// Short-code failures per unit id ("" = no unit matched), last 24 h.
    units: HashMap<String, Entry>,
    /// Failures of the last minute, all keys, at most `global_max_per_minute`.
    global: Entry,
}

/// The limiter. Share it (`Arc` or a field of the app state); every method takes `&self`.
#[derive(Debug)]
pub struct Limiter {
    cfg: LimiterConfig,
    inner: Mutex<Inner>,
    /// Hashes the last names of (unit, name) keys (randomly keyed per process).
    names: std::collections::hash_map::RandomState,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(LimiterConfig::default())
    }
}

/// Time until a full sliding window frees its oldest slot.
fn lockout_of(
    log: &VecDeque<Instant>,
    max: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    if log.len() < max as usize {
        return None;
    }
    let oldest_counted = log[log.len() - max as usize];
    Some(window.saturating_sub(now.saturating_duration_since(oldest_counted)))
}

/// An attempt that was paid for: settle it once the code was evaluated.
#[must_use = "settle the reservation with succeeded() or failed()"]
pub struct Reservation<'a> {
    limiter: &'a Limiter,
    keys: Vec<Key>,
    units: Vec<String>,
    at: Instant,
    /// The global log was full: the entry this attempt pushed out (restored on a refund).
    global_pushed_out: Option<Instant>,
    settled: bool,
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("keys", &self.keys)
            .field("units", &self.units)
            .field("settled", &self.settled)
            .finish_non_exhaustive()
    }
}

impl Reservation<'_> {
    /// The code was right: the attempt is refunded and the device's failures are forgotten
    /// (the address's are not: it may be shared with, or spoofed by, someone else).
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut inner = self.limiter.lock();
        let inner = &mut *inner;
        for key in &self.keys {
            match key {
                Key::Device(..) => {
                    inner.keys.remove(key);
                }
                _ => {
                    if let Some(e) = inner.keys.get_mut(key) {
                        e.refund(self.at);
                    }
                }
            }
        }
        for unit in &self.units {
            if let Some(e) = inner.units.get_mut(unit) {
                e.refund(self.at);
            }
        }
        inner.global.refund(self.at);
        if let Some(t) = self.global_pushed_out {
            inner.global.failures.push_front(t);
        }
    }

    /// The code was wrong (or expired, or for another unit): the attempt stays counted.
    pub fn failed(mut self) {
        self.settled = true;
        self.limiter.announce(&self.keys, &self.units, self.at);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // Unsettled (the request was abandoned mid-way): it stays counted, like a failure.
        if !self.settled {
            self.limiter.announce(&self.keys, &self.units, self.at);
        }
    }
}

impl Limiter {
    pub fn new(cfg: LimiterConfig) -> Self {
        let cfg = LimiterConfig {
            max_keys: cfg.max_keys.max(8),
            max_failures: cfg.max_failures.max(1),
            max_failures_per_address: cfg.max_failures_per_address.max(1),
            global_max_per_minute: cfg.global_max_per_minute.max(1),
            ..cfg
        };
        Limiter {
            cfg,
            inner: Mutex::new(Inner::default()),
            names: Default::default(),
        }
    }

    pub fn config(&self) -> &LimiterConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves consistent data (every mutation is
        // a single push/pop/insert): keep limiting rather than poison the portal.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn budget(&self, key: &Key) -> u32 {
        match key {
            Key::Device(..) => self.cfg.max_failures,
            Key::Address(_) => self.cfg.max_failures_per_address,
            Key::V6Net(_) => self
                .cfg
                .max_failures_per_address
                .saturating_mul(V6_NETWORK_FACTOR),
        }
    }

    /// The short-code budgets of an attempt: its units ("" = none matched), each with a keyed
    /// hash of the typed last name when it carries one (unit ids have no newline; the name
    /// itself is not kept).
    fn unit_keys(&self, units: &[&str], name: Option<&str>) -> Vec<String> {
        let unit_ids: Vec<&str> = if units.is_empty() {
            vec![""]
        } else {
            units.to_vec()
        };
        unit_ids
            .into_iter()
            .map(|u| match name {
                Some(n) => format!("{u}\n{:016x}", self.names.hash_one(n)),
                None => u.to_owned(),
            })
            .collect()
    }

    /// Are short codes refused on `unit_id` now (its budget spent, or the global ceiling)?
    /// For the state Home Assistant reads.
    pub fn short_codes_paused(&self, unit_id: &str, now: Instant) -> bool {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let max = self.cfg.short_code_failures_per_day;
        let global_max = self.cfg.global_max_per_minute;
        inner.global.prune(now, GLOBAL_WINDOW, global_max);
        if lockout_of(&inner.global.failures, global_max, GLOBAL_WINDOW, now).is_some() {
            return true;
        }
        inner.units.get_mut(unit_id).is_some_and(|e| {
            e.prune(now, SHORT_CODE_WINDOW, max);
            lockout_of(&e.failures, max, SHORT_CODE_WINDOW, now).is_some()
        })
    }

    /// Pay for one attempt now, or say how long to wait. Atomic: checks and counts in one
    /// critical section.
    pub fn reserve(&self, a: &Attempt<'_>, now: Instant) -> Result<Reservation<'_>, Lockout> {
        let keys = keys_of(a.mac, a.peer);
        let units = if a.short {
            self.unit_keys(a.units, a.second_factor)
        } else {
            Vec::new()
        };
        let named = a.second_factor.is_some();
        let unit_scope = if named {
            Scope::UnitShortCodesNamed
        } else {
            Scope::UnitShortCodes
        };
        let window = self.cfg.window;
        let mut guard = self.lock();
        let inner = &mut *guard;

        // 1. The per-key budgets: the longest wait wins.
        let mut worst: Option<Lockout> = None;
        let mut consider = |l: Lockout| {
            if worst.is_none_or(|w| l.retry_after > w.retry_after) {
                worst = Some(l);
            }
        };
        for key in &keys {
            let max = self.budget(key);
            if let Some(entry) = inner.keys.get_mut(key) {
                entry.prune(now, window, max);
                if let Some(retry_after) = lockout_of(&entry.failures, max, window, now) {
                    consider(Lockout {
                        retry_after,
                        scope: key.scope(),
                    });
                }
            }
        }
        // 2. Short codes: the global ceiling and the units' budgets.
        let global_max = self.cfg.global_max_per_minute;
        inner.global.prune(now, GLOBAL_WINDOW, global_max);
        if a.short {
            if let Some(retry_after) =
                lockout_of(&inner.global.failures, global_max, GLOBAL_WINDOW, now)
                    .filter(|_| !named)
            {
                consider(Lockout {
                    retry_after,
                    scope: Scope::Global,
                });
            }
            let max = self.cfg.short_code_failures_per_day;
            for unit in &units {
                if let Some(entry) = inner.units.get_mut(unit) {
                    entry.prune(now, SHORT_CODE_WINDOW, max);
                    if let Some(retry_after) =
                        lockout_of(&entry.failures, max, SHORT_CODE_WINDOW, now)
                    {
                        consider(Lockout {
                            retry_after,
                            scope: unit_scope,
                        });
                    }
                }
            }
        }
        if let Some(lockout) = worst {
            return Err(lockout);
        }

        // 3. Count it.
        for key in &keys {
            if !inner.keys.contains_key(key) && inner.keys.len() >= self.cfg.max_keys {
                self.make_room(&mut inner.keys, window, now);
            }
            let max = self.budget(key) as usize;
            let entry = inner.keys.entry(*key).or_default();
            entry.failures.push_back(now);
            while entry.failures.len() > max {
                entry.failures.pop_front();
            }
        }
        inner.global.failures.push_back(now);
        let mut global_pushed_out = None;
        while inner.global.failures.len() > global_max as usize {
            global_pushed_out = inner.global.failures.pop_front();
        }
        let unit_max = self.cfg.short_code_failures_per_day as usize;
        for unit in &units {
            // Bounded too: the names in (unit, name) keys are the guests' to choose.
            if !inner.units.contains_key(unit) && inner.units.len() >= self.cfg.max_keys {
                self.make_room(&mut inner.units, SHORT_CODE_WINDOW, now);
            }
            let entry = inner.units.entry(unit.clone()).or_default();
            entry.failures.push_back(now);
            while entry.failures.len() > unit_max.max(1) {
                entry.failures.pop_front();
            }
        }
        drop(guard);
        Ok(Reservation {
            limiter: self,
            keys,
            units,
            at: now,
            global_pushed_out,
            settled: false,
        })
    }

    /// After a failure: log, once per lockout, each budget it spent.
    fn announce(&self, keys: &[Key], units: &[String], at: Instant) {
        let mut lines: Vec<(Scope, String, Duration)> = Vec::new();
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            for key in keys {
                let max = self.budget(key);
                if let Some(e) = inner.keys.get_mut(key) {
                    if !e.announced {
                        if let Some(d) = lockout_of(&e.failures, max, self.cfg.window, at) {
                            e.announced = true;
                            lines.push((key.scope(), describe(key), d));
                        }
                    }
                }
            }
            let max = self.cfg.short_code_failures_per_day;
            for unit in units {
                if let Some(e) = inner.units.get_mut(unit) {
                    if !e.announced {
                        if let Some(d) = lockout_of(&e.failures, max, SHORT_CODE_WINDOW, at) {
                            e.announced = true;
                            // A named budget is logged by its unit: a guest's name stays out of
                            // the log.
                            lines.push(match unit.split_once('\n') {
                                Some((unit_id, _)) => {
                                    (Scope::UnitShortCodesNamed, unit_id.to_owned(), d)
                                }
                                None => (Scope::UnitShortCodes, unit.clone(), d),
                            });
                        }
                    }
                }
            }
            let g = &mut inner.global;
            if !g.announced {
                if let Some(d) = lockout_of(
                    &g.failures,
                    self.cfg.global_max_per_minute,
                    GLOBAL_WINDOW,
                    at,
                ) {
                    g.announced = true;
                    lines.push((Scope::Global, String::new(), d));
                }
            }
        }
        for (scope, key, d) in lines {
            match scope {
                Scope::UnitShortCodes => tracing::warn!(
                    scope = scope.as_str(),
                    unit_id = %key,
                    retry_after_secs = d.as_secs(),
                    "portal: wrong short codes on this unit reached the budget; short codes are refused there until it frees (long voucher codes still work)"
                ),
                Scope::UnitShortCodesNamed => tracing::warn!(
                    scope = scope.as_str(),
                    unit_id = %key,
                    retry_after_secs = d.as_secs(),
                    "portal: wrong short codes with one last name on this unit reached the budget; short codes with that name are refused there until it frees (long voucher codes still work)"
                ),
                Scope::Global => tracing::warn!(
                    scope = scope.as_str(),
                    retry_after_secs = d.as_secs(),
                    "portal: wrong attempts across all guests reached the global ceiling; short codes are not evaluated until it frees (long voucher codes still work)"
                ),
                _ => tracing::warn!(
                    scope = scope.as_str(),
                    key = %key,
                    retry_after_secs = d.as_secs(),
                    "portal: too many wrong codes, locked out"
                ),
            }
        }
    }

    /// How many keys are remembered (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.lock().keys.len()
    }

    /// How many short-code budgets (units, and units with a last name) are remembered.
    pub fn tracked_short_code_keys(&self) -> usize {
        self.lock().units.len()
    }

    /// Drop expired entries; if still above 3/4 of the cap, drop the least recently failed.
    fn make_room<K: Clone + Eq + std::hash::Hash>(
        &self,
        keys: &mut HashMap<K, Entry>,
        window: Duration,
        now: Instant,
    ) {
        keys.retain(|_, e| {
            e.last()
                .is_some_and(|t| now.saturating_duration_since(t) < window)
        });
        let target = self.cfg.max_keys / 4 * 3;
        if keys.len() <= target {
            return;
        }
        let excess = keys.len() - target;
        let mut by_age: Vec<(Instant, K)> = keys
            .iter()
            .filter_map(|(k, e)| e.last().map(|t| (t, k.clone())))
            .collect();
        by_age.select_nth_unstable_by_key(excess - 1, |(t, _)| *t);
        for (_, key) in &by_age[..excess] {
            keys.remove(key);
        }
    }
}

/// A key for the log: the MAC and address, the address, or the /64.
fn describe(key: &Key) -> String {
    match key {
        Key::Device(mac, ip) => {
            let m = mac
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join("-");
            format!("{m} at {ip}")
        }
        Key::Address(ip) => ip.to_string(),
        Key::V6Net(net) => {
            let mut full = [0u8; 16];
            full[..8].copy_from_slice(net);
            format!("{}/64", std::net::Ipv6Addr::from(full))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn mac(n: u64) -> Mac {
        let b = n.to_be_bytes();
        format!(
            "02-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            b[3], b[4], b[5], b[6], b[7]
        )
        .parse()
        .unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    const S: fn(u64) -> Duration = Duration::from_secs;
    const HOME: &str = "10.0.0.2";

    fn long<'a>(m: &'a Mac, peer: &str) -> Attempt<'a> {
        Attempt {
            mac: m,
            peer: ip(peer),
            units: &[],
            short: false,
            second_factor: None,
        }
    }
    fn short<'a>(m: &'a Mac, peer: &str, units: &'a [&'a str]) -> Attempt<'a> {
        Attempt {
            mac: m,
            peer: ip(peer),
            units,
            short: true,
            second_factor: None,
        }
    }
    /// One wrong attempt, which must have been allowed.
    fn fail(l: &Limiter, a: &Attempt<'_>, now: Instant) {
        l.reserve(a, now).expect("allowed").failed();
    }
    /// Allowed? A probe that leaves nothing counted (it succeeds, which also clears the
    /// device's failures: use it on devices whose failures no longer matter).
    fn check(l: &Limiter, a: &Attempt<'_>, now: Instant) -> Result<(), Lockout> {
        l.reserve(a, now).map(|r| r.succeeded())
    }

    #[test]
    fn five_failures_lock_the_device_until_a_slot_frees() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for i in 0..5 {
            fail(&l, &long(&m, HOME), t0 + S(i * 10));
        }
        // Oldest failure at t0: locked until t0 + 600 s.
        assert_eq!(
            l.reserve(&long(&m, HOME), t0 + S(40)).unwrap_err(),
            Lockout {
                retry_after: S(560),
                scope: Scope::Device
            }
        );
        assert_eq!(
            l.reserve(&long(&m, HOME), t0 + S(599))
                .unwrap_err()
                .retry_after,
            S(1)
        );
        // One slot free at t0+600: the next failure locks again, until the t0+10 one leaves.
        fail(&l, &long(&m, HOME), t0 + S(600));
        assert_eq!(
            l.reserve(&long(&m, HOME), t0 + S(601)).unwrap_err(),
            Lockout {
                retry_after: S(9),
                scope: Scope::Device
            }
        );
        // Other devices on the same address are not affected.
        assert!(check(&l, &long(&mac(2), HOME), t0 + S(601)).is_ok());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for i in 0..10 {
            // One failure every 3 minutes: never 5 within 10 minutes.
            let r = l.reserve(&long(&m, HOME), t0 + S(i * 180));
            assert!(r.is_ok(), "failure {i}");
            r.unwrap().failed();
        }
    }

    #[test]
    fn parallel_attempts_each_cost_one() {
        // Finding 2: N concurrent tries released together may evaluate at most the budget.
        let l = Arc::new(Limiter::default());
        let t0 = Instant::now();
        let m = mac(7);
        let barrier = Arc::new(std::sync::Barrier::new(64));
        let admitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let (l, b, n) = (l.clone(), barrier.clone(), admitted.clone());
                std::thread::spawn(move || {
                    b.wait();
                    if let Ok(r) = l.reserve(&long(&m, HOME), t0) {
                        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // "Evaluate the code" for a while, then fail.
                        std::thread::sleep(Duration::from_millis(20));
                        r.failed();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[test]
    fn a_dropped_reservation_counts_as_a_failure() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for _ in 0..5 {
            drop(l.reserve(&long(&m, HOME), t0).unwrap());
        }
        assert_eq!(
            l.reserve(&long(&m, HOME), t0).unwrap_err().scope,
            Scope::Device
        );
    }

    #[test]
    fn changing_the_mac_does_not_multiply_guesses_from_one_address() {
        // Findings 3 and 5: MACs are free to choose, the address is not.
        let l = Limiter::default();
        let t0 = Instant::now();
        let mut allowed = 0;
        for i in 0..1000 {
            if let Ok(r) = l.reserve(&long(&mac(i), HOME), t0) {
                allowed += 1;
                r.failed();
            }
        }
        assert_eq!(allowed, 30, "the address budget");
        assert_eq!(
            l.reserve(&long(&mac(5000), HOME), t0).unwrap_err().scope,
            Scope::Address
        );
        // Another address (another guest, another NAT) is not affected.
        assert!(check(&l, &long(&mac(5000), "10.0.0.3"), t0).is_ok());
    }

    #[test]
    fn a_victims_mac_from_another_address_locks_only_the_attacker() {
        // Finding 5: the attacker fills the victim's MAC budget from its own address.
        let l = Limiter::default();
        let t0 = Instant::now();
        let victim = mac(42);
        for _ in 0..5 {
            fail(&l, &long(&victim, "10.0.0.66"), t0);
        }
        assert_eq!(
            l.reserve(&long(&victim, "10.0.0.66"), t0)
                .unwrap_err()
                .scope,
            Scope::Device
        );
        // The victim, on its own address, still gets its five tries.
        for _ in 0..5 {
            fail(&l, &long(&victim, "10.0.0.42"), t0);
        }
    }

    #[test]
    fn one_guest_behind_a_nat_does_not_lock_the_others() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let nat = "192.0.2.10";
        // Guest 1 mistypes until locked.
        for _ in 0..5 {
            fail(&l, &long(&mac(1), nat), t0);
        }
        assert!(l.reserve(&long(&mac(1), nat), t0).is_err());
        // Guests 2..6 behind the same address still get their own five each.
        for g in 2..=6 {
            for _ in 0..5 {
                fail(&l, &long(&mac(g), nat), t0);
            }
        }
        // 30 from one address: now the address is spent.
        assert_eq!(
            l.reserve(&long(&mac(7), nat), t0).unwrap_err().scope,
            Scope::Address
        );
    }

    #[test]
    fn ipv6_privacy_addresses_do_not_multiply_and_count_per_64() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let mut allowed = 0;
        for i in 0..10_000u64 {
            // A fresh address and MAC every time, all in one /64.
            let addr = format!("2001:db8:1:2:{:x}:{:x}::1", i >> 16, i & 0xffff);
            if let Ok(r) = l.reserve(&long(&mac(i), &addr), t0) {
                allowed += 1;
                r.failed();
            }
        }
        assert_eq!(allowed, 120, "the /64 budget");
        let locked = l.reserve(&long(&mac(99_999), "2001:db8:1:2::99"), t0);
        assert_eq!(locked.unwrap_err().scope, Scope::Network);
        // Another /64 is not affected; IPv4-mapped IPv6 counts as the IPv4 address.
        assert!(check(&l, &long(&mac(99_999), "2001:db8:1:3::1"), t0).is_ok());
        for i in 0..30 {
            fail(&l, &long(&mac(200_000 + i), "::ffff:10.0.0.7"), t0);
        }
        assert_eq!(
            l.reserve(&long(&mac(1), "10.0.0.7"), t0).unwrap_err().scope,
            Scope::Address
        );
    }

    #[test]
    fn success_refunds_and_clears_the_device_but_not_the_address() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for _ in 0..4 {
            fail(&l, &long(&m, HOME), t0);
        }
        l.reserve(&long(&m, HOME), t0).unwrap().succeeded();
        // The device starts afresh: five more tries.
        for _ in 0..5 {
            fail(&l, &long(&m, HOME), t0);
        }
        assert!(l.reserve(&long(&m, HOME), t0).is_err());
        // The address kept the 9 failures (and not the refunded success): 21 more fit.
        for i in 0..21 {
            fail(&l, &long(&mac(100 + i), HOME), t0);
        }
        assert_eq!(
            l.reserve(&long(&mac(999), HOME), t0).unwrap_err().scope,
            Scope::Address
        );
    }

    #[test]
    fn short_codes_have_a_budget_per_unit_that_never_blocks_long_codes() {
        // Finding 3: 85 addresses × 5 tries walked a 4-digit code in 0.6 s.
        let l = Limiter::default();
        let t0 = Instant::now();
        let beach: &[&str] = &["beach"];
        let mut evaluated = 0;
        for a in 0..85u64 {
            let addr = format!("10.1.0.{a}");
            for t in 0..5 {
                let m = mac(a * 10 + t);
                if let Ok(r) = l.reserve(&short(&m, &addr, beach), t0 + S(a)) {
                    evaluated += 1;
                    r.failed();
                }
            }
        }
        assert_eq!(evaluated, 10, "the unit's daily short-code budget");
        let refused = l
            .reserve(&short(&mac(1), "10.2.0.1", beach), t0 + S(100))
            .unwrap_err();
        assert_eq!(refused.scope, Scope::UnitShortCodes);
        assert_eq!(refused.retry_after, SHORT_CODE_WINDOW - S(100));
        // A long voucher code on the same unit, from a fresh device, is still evaluated.
        let m = mac(777);
        let ok = Attempt {
            units: beach,
            ..long(&m, "10.2.0.1")
        };
        assert!(check(&l, &ok, t0 + S(100)).is_ok());
        // Short codes on another unit are not affected.
        let other: &[&str] = &["loft"];
        assert!(check(&l, &short(&mac(778), "10.2.0.2", other), t0 + S(100)).is_ok());
        // A day later the budget is back.
        assert!(check(&l, &short(&mac(1), "10.2.0.1", beach), t0 + S(86_400 + 85)).is_ok());
    }

    #[test]
    fn a_short_code_with_the_guests_last_name_has_a_budget_of_its_own() {
        // The unit requires a last name with short codes. Strangers spend the unit's budget
        // (and the global ceiling); the guest, typing the name, still gets in.
        let l = Limiter::new(LimiterConfig {
            global_max_per_minute: 20,
            ..LimiterConfig::default()
        });
        let t0 = Instant::now();
        let beach: &[&str] = &["beach"];
        let cabin: &[&str] = &["cabin"];
        for a in 0..10u64 {
            fail(&l, &short(&mac(a), &format!("10.4.0.{a}"), beach), t0);
            fail(
                &l,
                &short(&mac(a + 50), &format!("10.4.0.{}", a + 50), cabin),
                t0,
            );
        }
        assert_eq!(
            l.reserve(&short(&mac(90), "10.4.1.1", beach), t0)
                .unwrap_err()
                .scope,
            Scope::UnitShortCodes,
            "bare short codes are stopped by the unit's budget"
        );
        assert_eq!(
            l.reserve(&short(&mac(91), "10.4.1.2", &["loft"]), t0)
                .unwrap_err()
                .scope,
            Scope::Global,
            "and everywhere by the ceiling"
        );
        assert!(l.short_codes_paused("beach", t0));
        assert!(
            l.short_codes_paused("loft", t0),
            "the ceiling pauses every unit"
        );
        let named = |m: &'static Mac, addr: &str, name: &'static str| Attempt {
            second_factor: Some(name),
            ..short(m, addr, beach)
        };
        static GUEST: std::sync::LazyLock<Mac> = std::sync::LazyLock::new(|| mac(500));
        assert!(check(&l, &named(&GUEST, "10.4.2.1", "smith"), t0).is_ok());
        // Ten wrong codes with one name spend that name's budget only.
        static WALKER: std::sync::LazyLock<Vec<Mac>> =
            std::sync::LazyLock::new(|| (0..10).map(|i| mac(600 + i)).collect());
        for (i, m) in WALKER.iter().enumerate() {
            fail(&l, &named(m, &format!("10.4.3.{i}"), "jones"), t0);
        }
        let refused = l
            .reserve(&named(&GUEST, "10.4.2.2", "jones"), t0)
            .unwrap_err();
        assert_eq!(refused.scope, Scope::UnitShortCodesNamed);
        assert!(check(&l, &named(&GUEST, "10.4.2.3", "smith"), t0).is_ok());
        // Once a minute has passed the ceiling frees, the unit's own budget stays spent.
        assert!(l.short_codes_paused("beach", t0 + S(61)));
        assert!(!l.short_codes_paused("loft", t0 + S(61)));
    }

    #[test]
    fn short_codes_outside_any_unit_share_one_bucket() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for a in 0..10u64 {
            fail(&l, &short(&mac(a), &format!("10.3.0.{a}"), &[]), t0);
        }
        assert_eq!(
            l.reserve(&short(&mac(50), "10.3.0.50", &[]), t0)
                .unwrap_err()
                .scope,
            Scope::UnitShortCodes
        );
    }

    #[test]
    fn the_global_ceiling_stops_short_codes_but_not_a_valid_long_code() {
        // Finding 4: 600 wrong codes from 120 addresses locked every guest out.
        let l = Limiter::default();
        let t0 = Instant::now();
        for a in 0..120u64 {
            for t in 0..5 {
                fail(
                    &l,
                    &long(&mac(a * 10 + t), &format!("10.4.{}.{}", a / 200, a % 200)),
                    t0 + Duration::from_millis(a),
                );
            }
        }
        // A guest with a long voucher code still gets in.
        let guest = mac(123_456);
        l.reserve(&long(&guest, "10.5.0.1"), t0 + S(1))
            .expect("long codes are still evaluated past the ceiling")
            .succeeded();
        // Short codes wait for the minute to pass.
        let refused = l
            .reserve(&short(&guest, "10.5.0.1", &["beach"]), t0 + S(1))
            .unwrap_err();
        assert_eq!(refused.scope, Scope::Global);
        assert!(refused.retry_after <= S(60));
        assert!(check(&l, &short(&guest, "10.5.0.1", &["beach"]), t0 + S(61)).is_ok());
    }

    #[test]
    fn the_global_log_stays_bounded() {
        let l = Limiter::new(LimiterConfig {
            global_max_per_minute: 20,
            ..Default::default()
        });
        let t0 = Instant::now();
        for i in 0..1000u64 {
            let addr = format!("10.6.{}.{}", i / 250, i % 250);
            if let Ok(r) = l.reserve(&long(&mac(i), &addr), t0) {
                r.failed();
            }
        }
        assert!(l.lock().global.failures.len() <= 20);
    }

    #[test]
    fn lockout_reports_the_longest_wait() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        // Address full since t0 (30 other devices), device full since t0+100.
        for i in 0..25 {
            fail(&l, &long(&mac(100 + i), HOME), t0);
        }
        for _ in 0..5 {
            fail(&l, &long(&m, HOME), t0 + S(100));
        }
        let e = l.reserve(&long(&m, HOME), t0 + S(100)).unwrap_err();
        assert_eq!(e.retry_after, S(600));
        assert_eq!(e.scope, Scope::Device);
    }

    #[test]
    fn cap_holds_under_a_million_distinct_keys() {
        let cap = 50_000;
        let l = Limiter::new(LimiterConfig {
            max_keys: cap,
            ..Default::default()
        });
        let t0 = Instant::now();
        let mut peak = 0;
        // 500 000 failures, each with a new MAC and a new address: 1 000 000 distinct keys,
        // all inside one window, so nothing expires and eviction has to do the work.
        for i in 0..500_000u64 {
            let v4 = std::net::Ipv4Addr::from((10u32 << 24) | i as u32);
            if let Ok(r) = l.reserve(
                &long(&mac(i), &v4.to_string()),
                t0 + Duration::from_micros(2 * i),
            ) {
                r.failed();
            }
            peak = peak.max(l.tracked_keys());
        }
        assert!(peak <= cap, "peak {peak} > cap {cap}");
        // The newest clients are still tracked: eviction took the oldest.
        let last = mac(499_999);
        let addr = std::net::Ipv4Addr::from((10u32 << 24) | 499_999).to_string();
        for _ in 0..4 {
            fail(&l, &long(&last, &addr), t0 + S(1));
        }
        let lockout = l.reserve(&long(&last, &addr), t0 + S(1)).unwrap_err();
        assert!(
            lockout.scope == Scope::Device && lockout.retry_after > S(590),
            "{lockout:?}"
        );
    }

    #[test]
    fn eviction_prefers_expired_entries() {
        let l = Limiter::new(LimiterConfig {
            max_keys: 100,
            ..Default::default()
        });
        let t0 = Instant::now();
        // 49 clients whose failures are long expired (2 keys each)...
        for i in 0..49 {
            fail(&l, &long(&mac(1000 + i), &format!("10.7.0.{i}")), t0);
        }
        // ...then one locked client.
        for _ in 0..5 {
            fail(&l, &long(&mac(1), HOME), t0 + S(1000));
        }
        assert_eq!(l.tracked_keys(), 100);
        // A new key makes room by dropping the expired ones only.
        fail(&l, &long(&mac(5000), "10.8.0.1"), t0 + S(1001));
        assert_eq!(l.tracked_keys(), 4);
        assert!(l.reserve(&long(&mac(1), HOME), t0 + S(1001)).is_err());
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let l = Limiter::default();
        let t0 = Instant::now() + S(10);
        let m = mac(1);
        for _ in 0..5 {
            fail(&l, &long(&m, HOME), t0);
        }
        // An earlier `now` than the recorded failures: still locked, for at most the window.
        let e = l.reserve(&long(&m, HOME), t0 - S(5)).unwrap_err();
        assert!(e.retry_after <= S(600));
    }

    #[test]
    fn short_means_at_most_seven_characters() {
        assert!(is_short("4711"));
        assert!(is_short("ABC1234"));
        assert!(!is_short("K7M2P9QX"));
    }

    #[test]
    fn every_lockout_is_logged_once_with_its_scope() {
        use std::io::Write;
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let b2 = buf.clone();
        let sub = tracing_subscriber::fmt()
            .json()
            .with_writer(move || b2.clone())
            .finish();
        tracing::subscriber::with_default(sub, || {
            let l = Limiter::default();
            let t0 = Instant::now();
            let m = mac(1);
            for _ in 0..5 {
                fail(&l, &long(&m, HOME), t0);
            }
            // More refused tries: no new line.
            for _ in 0..10 {
                assert!(l.reserve(&long(&m, HOME), t0).is_err());
            }
            for a in 0..10u64 {
                fail(
                    &l,
                    &short(&mac(50 + a), &format!("10.9.0.{a}"), &["beach"]),
                    t0,
                );
            }
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("\"scope\":\"device\""))
                .count(),
            1,
            "{text}"
        );
        assert!(lines
            .iter()
            .any(|l| l.contains("\"scope\":\"device\"")
                && l.contains("02-00-00-00-00-01 at 10.0.0.2")));
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("\"scope\":\"unit_short_codes\"")
                    && l.contains("\"unit_id\":\"beach\""))
                .count(),
            1,
            "{text}"
        );
    }
}
