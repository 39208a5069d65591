//! A per-email login throttle with exponential backoff, checked before the password is hashed.
//!
//! Guessing a password costs the attacker one request and the server one argon2 hash; the
//! throttle makes sure the server stops paying. After `free_failures` consecutive failed logins
//! for an email, the next attempt is refused (without touching the database or hashing) until a
//! window has passed: 1 s after the last failure, doubling with each further failure up to
//! `max_backoff`. A successful login forgets the email; so do 15 quiet minutes. Attempts in
//! flight count against the free failures, so 200 concurrent guesses on one email hash at most
//! `free_failures` times, not 200.
//!
//! The state is in process, so each instance throttles on its own (N instances allow N times the
//! guesses), and it is bounded: at most `max_tracked` emails are remembered, the one touched
//! longest ago being forgotten first. Unknown emails are tracked like known ones, so the throttle
//! says nothing about which accounts exist. Times come from the service's [`Clock`], so tests
//! move them instead of sleeping.
//!
//! [`Clock`]: crate::clock::Clock

use crate::domain::{Email, UnixMillis};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// Failures older than this, with no lockout running, are forgotten.
const QUIET_MILLIS: i64 = 15 * 60 * 1_000;
/// What a refusal for "an attempt on this email is already in flight" advises.
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Consecutive failures allowed before the backoff starts.
    pub free_failures: u32,
    /// The longest window between two attempts.
    pub max_backoff: Duration,
    /// Most emails remembered at once.
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            max_backoff: Duration::from_secs(300),
            max_tracked: 100_000,
        }
    }
}

#[derive(Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Email, Entry>,
    /// Entries by when they were last touched, oldest first.
    order: BTreeMap<u64, Email>,
    next_touch: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last_failure: UnixMillis,
    locked_until: UnixMillis,
    touched: u64,
}

/// One login attempt let through; report how it went with [`Attempt::failed`] or
/// [`Attempt::succeeded`]. Dropped without either (the call failed for another reason), it only
/// frees its place.
#[must_use]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    email: Email,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(State::default()),
        }
    }

    /// Lets an attempt for `email` through, or says how long to wait before the next one.
    pub fn begin(&self, email: &Email, now: UnixMillis) -> Result<Attempt<'_>, Duration> {
        let policy = self.policy;
        self.with_entry(email, |entry| {
            if now < entry.locked_until {
                return Err(millis(entry.locked_until - now));
            }
            if entry.failures > 0 && now - entry.last_failure >= QUIET_MILLIS {
                entry.failures = 0;
            }
            let allowed = policy.free_failures.saturating_sub(entry.failures).max(1);
            if entry.in_flight >= allowed {
                return Err(IN_FLIGHT_RETRY);
            }
            entry.in_flight += 1;
            Ok(())
        })?;
        Ok(Attempt {
            throttle: self,
            email: email.clone(),
        })
    }

    /// Emails remembered now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere cannot leave it
        // half-changed: recover it rather than failing every later login.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `change` on the entry of `email` (a new one if needed), marks it most recently
    /// touched, and forgets it if it is left empty.
    fn with_entry<T>(&self, email: &Email, change: impl FnOnce(&mut Entry) -> T) -> T {
        let mut state = self.lock();
        let State {
            entries,
            order,
            next_touch,
        } = &mut *state;
        if !entries.contains_key(email) {
            while entries.len() >= self.policy.max_tracked.max(1) {
                let Some((_, oldest)) = order.pop_first() else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        let entry = entries.entry(email.clone()).or_default();
        let result = change(entry);
        order.remove(&entry.touched);
        if entry.failures == 0 && entry.in_flight == 0 {
            entries.remove(email);
        } else {
            *next_touch += 1;
            entry.touched = *next_touch;
            order.insert(*next_touch, email.clone());
        }
        result
    }

    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(self.policy.free_failures).min(30);
        Duration::from_secs(1u64 << doublings).min(self.policy.max_backoff)
    }
}

impl Attempt<'_> {
    /// The password was wrong (or the account unknown): counts towards the backoff.
    pub fn failed(self, now: UnixMillis) {
        let throttle = self.throttle;
        throttle.with_entry(&self.email, |entry| {
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            if entry.failures >= throttle.policy.free_failures {
                let window = throttle.backoff(entry.failures);
                entry.locked_until =
                    now + i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 4);
            }
        });
    }

    /// The login succeeded: the email starts afresh.
    pub fn succeeded(self) {
        self.throttle.with_entry(&self.email, |entry| {
            entry.failures = 0;
        });
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.throttle.with_entry(&self.email, |entry| {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        });
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(n: usize) -> Email {
        Email::parse("email", &format!("fan{n}@example.com")).expect("email")
    }

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy {
            free_failures: 5,
            max_backoff: Duration::from_secs(8),
            max_tracked: 3,
        })
    }

    fn fail(throttle: &LoginThrottle, who: &Email, now: UnixMillis) {
        throttle.begin(who, now).expect("let through").failed(now);
    }

    fn fail_times(throttle: &LoginThrottle, who: &Email, now: UnixMillis, times: usize) {
        for _ in 0..times {
            fail(throttle, who, now);
        }
    }

    #[test]
    fn five_failures_then_windows_of_1_2_4_8_8_seconds() {
        let (throttle, ann) = (throttle(), email(1));
        fail_times(&throttle, &ann, 0, 4);
        let mut now = 0;
        for window in [1_000, 2_000, 4_000, 8_000, 8_000] {
            fail(&throttle, &ann, now);
            assert_eq!(
                throttle.begin(&ann, now + window - 1).err(),
                Some(Duration::from_millis(1))
            );
            assert_eq!(
                throttle.begin(&ann, now).err(),
                Some(Duration::from_millis(window as u64))
            );
            now += window;
        }
        throttle.begin(&ann, now).expect("window over").succeeded();
        assert_eq!(throttle.tracked(), 0, "a success forgets the email");
        fail_times(&throttle, &ann, now, 4);
        assert!(
            throttle.begin(&ann, now).is_ok(),
            "five free failures again"
        );
    }

    #[test]
    fn other_emails_are_not_affected_and_quiet_forgets() {
        let (throttle, ann, bob) = (throttle(), email(1), email(2));
        fail_times(&throttle, &ann, 0, 5);
        assert!(throttle.begin(&ann, 10).is_err());
        drop(throttle.begin(&bob, 10).expect("bob is free"));
        fail(&throttle, &ann, 1_000);
        let later = 1_000 + QUIET_MILLIS;
        drop(throttle.begin(&ann, later).expect("quiet long enough"));
        fail_times(&throttle, &ann, later, 4);
        assert!(
            throttle.begin(&ann, later).is_ok(),
            "failures were forgotten"
        );
    }

    #[test]
    fn attempts_in_flight_count_against_the_free_failures() {
        let (throttle, ann) = (throttle(), email(1));
        let flying: Vec<_> = (0..5)
            .map(|_| throttle.begin(&ann, 0).expect("free"))
            .collect();
        assert_eq!(throttle.begin(&ann, 0).err(), Some(IN_FLIGHT_RETRY));
        for attempt in flying {
            attempt.failed(0);
        }
        assert!(throttle.begin(&ann, 999).is_err());
        let one = throttle.begin(&ann, 1_000).expect("window over");
        assert!(throttle.begin(&ann, 1_000).is_err(), "one at a time now");
        drop(one);
        assert!(throttle.begin(&ann, 1_000).is_ok());
    }

    #[test]
    fn the_oldest_email_is_forgotten_past_the_cap() {
        let throttle = throttle();
        for n in 0..3 {
            fail_times(&throttle, &email(n), 0, 5);
        }
        assert!(throttle.begin(&email(0), 1).is_err(), "touched last now");
        fail(&throttle, &email(3), 1);
        assert_eq!(throttle.tracked(), 3);
        assert!(
            throttle.begin(&email(1), 1).is_ok(),
            "the oldest was forgotten"
        );
        assert!(throttle.begin(&email(0), 1).is_err());
    }
}
