//! Brute-force limiter for code attempts (DESIGN §5).
//!
//! Failures are counted per client MAC and per client IP in a sliding window (default 5 per
//! 10 min). A key that has reached the limit is locked until its oldest counted failure
//! leaves the window, i.e. until a slot frees; the guest is told how long that is. On top, a
//! global ceiling (default 600 failures per minute across all keys) locks everyone out for
//! the rest of that minute: someone cycling spoofed MACs gets at most that many guesses.
//!
//! Usage by the handler: `check` before looking the code up; `record_failure` when the code
//! was wrong (or expired, or for another unit); `record_success` after a redemption, which
//! clears the MAC's count but not the IP's (a valid code must not reset an address that is
//! shared with, or spoofed by, someone else).
//!
//! Keys: the MAC as canonicalised by [`Mac`]; IPv4 addresses as they are, IPv4-mapped IPv6
//! as IPv4, other IPv6 addresses by their /64 (a single host can pick any address in it).
//!
//! Memory is bounded by [`LimiterConfig::max_keys`] (default 50 000; an entry is well under
//! 200 bytes). When an insert finds the table full, expired entries are dropped and, if the
//! table is still above three quarters full, the entries with the oldest last failure go.
//! With the defaults this never touches live entries in practice: the global ceiling admits
//! at most 6 000 failures per 10-minute window, i.e. ≤ 12 000 keys, when callers `check`
//! before they `record_failure`. The sweep is O(n) and runs at most once per n/4 inserts.
//!
//! Time is an injected [`Instant`] so tests can move it; all arithmetic saturates, so a
//! caller passing a slightly earlier `now` than a previous call does no harm.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::net::Mac;

const GLOBAL_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Failures per key inside `window` before the key is locked.
    pub max_failures: u32,
    pub window: Duration,
    /// Failures per minute, all keys together, before everyone is locked out.
    pub global_max_per_minute: u32,
    /// Most keys (MACs + IPs) remembered at once.
    pub max_keys: usize,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            max_failures: 5,
            window: Duration::from_secs(600),
            global_max_per_minute: 600,
            max_keys: 50_000,
        }
    }
}

/// "Not now": how long until an attempt is allowed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub retry_after: Duration,
    /// The global ceiling, not this client, is the reason (worth a warning in the log).
    pub global: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Mac([u8; 6]),
    V4([u8; 4]),
    V6Net([u8; 8]),
}

impl Key {
    fn ip(ip: IpAddr) -> Key {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Key::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut net = [0u8; 8];
                net.copy_from_slice(&v6.octets()[..8]);
                Key::V6Net(net)
            }
        }
    }
}

/// Failure times of one key inside the window, oldest first, at most `max_failures`.
#[derive(Debug)]
struct Entry {
    failures: VecDeque<Instant>,
}

impl Entry {
    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.failures.pop_front();
        }
    }
    fn last(&self) -> Option<Instant> {
        self.failures.back().copied()
    }
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<Key, Entry>,
    /// Failures of the last minute, all keys, at most `global_max_per_minute`.
    global: VecDeque<Instant>,
}

/// The limiter. Share it (`Arc`) between request handlers; every method takes `&self`.
#[derive(Debug)]
pub struct Limiter {
    cfg: LimiterConfig,
    inner: Mutex<Inner>,
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
    if max == 0 || log.len() < max as usize {
        return None;
    }
    let oldest_counted = log[log.len() - max as usize];
    Some(window.saturating_sub(now.saturating_duration_since(oldest_counted)))
}

fn prune_global(log: &mut VecDeque<Instant>, now: Instant) {
    while log
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= GLOBAL_WINDOW)
    {
        log.pop_front();
    }
}

impl Limiter {
    pub fn new(cfg: LimiterConfig) -> Self {
        let cfg = LimiterConfig {
            max_keys: cfg.max_keys.max(4),
            ..cfg
        };
        Limiter {
            cfg,
            inner: Mutex::new(Inner::default()),
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

    fn keys(mac: &Mac, ip: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::Mac(mac.octets())).chain(ip.map(Key::ip))
    }

    /// May this client try a code now?
    pub fn check(&self, mac: &Mac, ip: Option<IpAddr>, now: Instant) -> Result<(), Lockout> {
        let mut inner = self.lock();
        prune_global(&mut inner.global, now);
        if let Some(retry_after) = lockout_of(
            &inner.global,
            self.cfg.global_max_per_minute,
            GLOBAL_WINDOW,
            now,
        ) {
            return Err(Lockout {
                retry_after,
                global: true,
            });
        }
        let mut worst: Option<Duration> = None;
        for key in Self::keys(mac, ip) {
            if let Some(entry) = inner.keys.get_mut(&key) {
                entry.prune(now, self.cfg.window);
                if let Some(d) =
                    lockout_of(&entry.failures, self.cfg.max_failures, self.cfg.window, now)
                {
                    worst = Some(worst.map_or(d, |w| w.max(d)));
                }
            }
        }
        match worst {
            Some(retry_after) => Err(Lockout {
                retry_after,
                global: false,
            }),
            None => Ok(()),
        }
    }

    /// A code attempt by this client failed.
    pub fn record_failure(&self, mac: &Mac, ip: Option<IpAddr>, now: Instant) {
        let max = self.cfg.max_failures.max(1) as usize;
        let mut inner = self.lock();
        prune_global(&mut inner.global, now);
        inner.global.push_back(now);
        while inner.global.len() > self.cfg.global_max_per_minute.max(1) as usize {
            inner.global.pop_front();
        }
        for key in Self::keys(mac, ip) {
            if !inner.keys.contains_key(&key) && inner.keys.len() >= self.cfg.max_keys {
                self.make_room(&mut inner.keys, now);
            }
            let entry = inner.keys.entry(key).or_insert_with(|| Entry {
                failures: VecDeque::with_capacity(max),
            });
            entry.prune(now, self.cfg.window);
            entry.failures.push_back(now);
            while entry.failures.len() > max {
                entry.failures.pop_front();
            }
        }
    }

    /// A code was redeemed by this device: forget its MAC's failures.
    pub fn record_success(&self, mac: &Mac) {
        self.lock().keys.remove(&Key::Mac(mac.octets()));
    }

    /// How many keys are remembered (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.lock().keys.len()
    }

    /// Drop expired entries; if still above 3/4 of the cap, drop the least recently failed.
    fn make_room(&self, keys: &mut HashMap<Key, Entry>, now: Instant) {
        let window = self.cfg.window;
        keys.retain(|_, e| {
            e.last()
                .is_some_and(|t| now.saturating_duration_since(t) < window)
        });
        let target = self.cfg.max_keys / 4 * 3;
        if keys.len() <= target {
            return;
        }
        let excess = keys.len() - target;
        let mut by_age: Vec<(Instant, Key)> = keys
            .iter()
            .filter_map(|(k, e)| e.last().map(|t| (t, *k)))
            .collect();
        by_age.select_nth_unstable_by_key(excess - 1, |(t, _)| *t);
        for (_, key) in &by_age[..excess] {
            keys.remove(key);
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
    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }
    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn five_failures_lock_until_a_slot_frees() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for i in 0..4 {
            l.record_failure(&m, None, t0 + S(i * 10));
            assert_eq!(
                l.check(&m, None, t0 + S(i * 10)),
                Ok(()),
                "after {} failures",
                i + 1
            );
        }
        l.record_failure(&m, None, t0 + S(40));
        // Oldest failure at t0: locked until t0 + 600 s.
        assert_eq!(
            l.check(&m, None, t0 + S(40)),
            Err(Lockout {
                retry_after: S(560),
                global: false
            })
        );
        assert_eq!(
            l.check(&m, None, t0 + S(599)),
            Err(Lockout {
                retry_after: S(1),
                global: false
            })
        );
        assert_eq!(l.check(&m, None, t0 + S(600)), Ok(()));
        // One slot free: the next failure locks again, until the t0+10 failure leaves.
        l.record_failure(&m, None, t0 + S(601));
        assert_eq!(
            l.check(&m, None, t0 + S(601)),
            Err(Lockout {
                retry_after: S(9),
                global: false
            })
        );
        // Other devices are not affected.
        assert_eq!(l.check(&mac(2), None, t0 + S(601)), Ok(()));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for i in 0..10 {
            // One failure every 3 minutes: never 5 within 10 minutes.
            l.record_failure(&m, None, t0 + S(i * 180));
            assert_eq!(l.check(&m, None, t0 + S(i * 180)), Ok(()), "failure {i}");
        }
    }

    #[test]
    fn ip_is_counted_across_macs() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            l.record_failure(&mac(i), ip("192.168.1.50"), t0);
        }
        // A fresh MAC from the same address is locked, the same MAC elsewhere is not.
        assert!(l.check(&mac(99), ip("192.168.1.50"), t0).is_err());
        assert_eq!(l.check(&mac(0), ip("192.168.1.51"), t0), Ok(()));
        assert_eq!(l.check(&mac(99), None, t0), Ok(()));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..5u64 {
            l.record_failure(&mac(i), ip(&format!("2001:db8:1:2::{i:x}")), t0);
        }
        assert!(l.check(&mac(50), ip("2001:db8:1:2:ffff::1"), t0).is_err());
        assert_eq!(l.check(&mac(50), ip("2001:db8:1:3::1"), t0), Ok(()));
        for i in 10..15u64 {
            l.record_failure(&mac(i), ip("::ffff:10.0.0.7"), t0);
        }
        assert!(l.check(&mac(51), ip("10.0.0.7"), t0).is_err());
    }

    #[test]
    fn success_clears_the_mac_but_not_the_ip() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        for _ in 0..5 {
            l.record_failure(&m, ip("10.0.0.2"), t0);
        }
        assert!(l.check(&m, None, t0).is_err());
        l.record_success(&m);
        assert_eq!(l.check(&m, None, t0), Ok(()));
        assert!(
            l.check(&m, ip("10.0.0.2"), t0).is_err(),
            "the IP stays counted"
        );
    }

    #[test]
    fn lockout_reports_the_longer_of_mac_and_ip() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let m = mac(1);
        // IP full since t0, MAC full since t0+100.
        for i in 0..5 {
            l.record_failure(&mac(100 + i), ip("10.0.0.3"), t0);
        }
        for _ in 0..5 {
            l.record_failure(&m, None, t0 + S(100));
        }
        assert_eq!(
            l.check(&m, ip("10.0.0.3"), t0 + S(100))
                .unwrap_err()
                .retry_after,
            S(600)
        );
    }

    #[test]
    fn global_ceiling() {
        let l = Limiter::new(LimiterConfig {
            global_max_per_minute: 20,
            ..Default::default()
        });
        let t0 = Instant::now();
        for i in 0..19 {
            l.record_failure(&mac(i), None, t0 + Duration::from_millis(i * 100));
        }
        assert_eq!(l.check(&mac(1000), None, t0 + S(2)), Ok(()));
        l.record_failure(&mac(19), None, t0 + S(2));
        // 20 failures inside a minute: everyone waits until the first leaves the minute.
        assert_eq!(
            l.check(&mac(1000), None, t0 + S(2)),
            Err(Lockout {
                retry_after: S(58),
                global: true
            })
        );
        assert_eq!(l.check(&mac(1000), None, t0 + S(60)), Ok(()));
        // The log of global failures stays bounded by the ceiling.
        for i in 0..1000 {
            l.record_failure(&mac(i), None, t0 + S(61));
        }
        assert!(l.lock().global.len() <= 20);
    }

    #[test]
    fn cap_holds_under_a_million_distinct_keys() {
        let cap = 50_000;
        // The global ceiling is out of the way here: callers that skip `check` must not be
        // able to grow the table either.
        let l = Limiter::new(LimiterConfig {
            max_keys: cap,
            global_max_per_minute: u32::MAX,
            ..Default::default()
        });
        let t0 = Instant::now();
        let mut peak = 0;
        // 500 000 failures, each with a new MAC and a new IP: 1 000 000 distinct keys, all
        // inside one window, so nothing expires and eviction has to do the work.
        for i in 0..500_000u64 {
            let v4 = std::net::Ipv4Addr::from((10u32 << 24) | i as u32);
            l.record_failure(
                &mac(i),
                Some(IpAddr::V4(v4)),
                t0 + Duration::from_micros(2 * i),
            );
            peak = peak.max(l.tracked_keys());
        }
        assert!(peak <= cap, "peak {peak} > cap {cap}");
        // The newest clients are still tracked: eviction took the oldest.
        let last = 499_999u64;
        l.record_failure(&mac(last), None, t0 + S(1));
        l.record_failure(&mac(last), None, t0 + S(1));
        l.record_failure(&mac(last), None, t0 + S(1));
        l.record_failure(&mac(last), None, t0 + S(1));
        let lockout = l.check(&mac(last), None, t0 + S(1)).unwrap_err();
        assert!(
            !lockout.global && lockout.retry_after > S(590),
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
        // One locked client, then 99 whose failures are long expired...
        for _ in 0..5 {
            l.record_failure(&mac(1), None, t0 + S(1000));
        }
        for i in 0..99 {
            l.record_failure(&mac(1000 + i), None, t0);
        }
        assert_eq!(l.tracked_keys(), 100);
        // ...a new key makes room by dropping the expired ones only.
        l.record_failure(&mac(5000), None, t0 + S(1001));
        assert_eq!(l.tracked_keys(), 2);
        assert!(l.check(&mac(1), None, t0 + S(1001)).is_err());
    }

    #[test]
    fn concurrent_use_is_safe_and_counts_everything() {
        let l = Arc::new(Limiter::new(LimiterConfig {
            global_max_per_minute: 1_000_000,
            ..Default::default()
        }));
        let t0 = Instant::now();
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000u64 {
                        let m = mac(t * 10_000 + i);
                        l.record_failure(&m, ip("10.9.9.9"), t0);
                        let _ = l.check(&m, None, t0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(l.tracked_keys(), 8_001);
        assert!(l.check(&mac(424242), ip("10.9.9.9"), t0).is_err());
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let l = Limiter::default();
        let t0 = Instant::now() + S(10);
        let m = mac(1);
        for _ in 0..5 {
            l.record_failure(&m, None, t0);
        }
        // An earlier `now` than the recorded failures: still locked, for at most the window.
        let e = l.check(&m, None, t0 - S(5)).unwrap_err();
        assert!(e.retry_after <= S(600));
    }
}
