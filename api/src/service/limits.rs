//! Rate limits that hold across replicas: log-in attempts, sign-ups, mutations and a cost
//! budget for every request.
//!
//! The count lives in the database (`rate_limit_bucket`, one row per key), so every
//! replica sees the same numbers. Each bucket is a GCRA ("generic cell rate algorithm")
//! cell: the row keeps the theoretical arrival time `tat`; spending `n` units moves it
//! `n × interval` into the future, and a spend is refused when that would put it more
//! than `limit × interval` ahead of now. One upsert decides and records a spend
//! atomically, on PostgreSQL and SQLite alike, with no read-modify-write race.
//!
//! The cost budget is spent on every request, so a replica takes it from the database
//! in leases (a slice of the bucket, spent locally for up to [`LEASE_TTL`]): one write per
//! lease instead of per request. Unspent lease is forfeited, never returned, so the
//! global limit is never exceeded — a client spread over N replicas just reaches it a
//! little sooner. In front of everything, an in-process per-IP limiter (the `governor`
//! crate) sheds floods before they cost a database round trip.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use sha2::{Digest, Sha256};

use crate::{auth::Viewer, config::LimitsConfig, error::AppError};

/// How long a replica may spend a lease of the cost budget before it is forfeited.
pub const LEASE_TTL: Duration = Duration::from_secs(2);

/// One limit: `limit` units per `per`, all of which may be spent at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub per: Duration,
}

impl Rule {
    pub const fn new(limit: u32, per: Duration) -> Self {
        Self { limit, per }
    }

    /// Milliseconds one unit takes to come back (at least 1).
    fn interval_ms(self) -> i64 {
        let per = i64::try_from(self.per.as_millis()).unwrap_or(i64::MAX);
        (per / i64::from(self.limit.max(1))).max(1)
    }

    fn capacity_ms(self) -> i64 {
        self.interval_ms()
            .saturating_mul(i64::from(self.limit.max(1)))
    }

    /// Units per second, as shown to clients (`restoreRate`).
    pub fn per_second(self) -> f64 {
        f64::from(self.limit) / self.per.as_secs_f64().max(f64::EPSILON)
    }
}

/// The answer to a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Allowed; this many units are left right now.
    Allowed { remaining: u64 },
    /// Refused; the spend would be allowed after this long.
    Refused { retry_after: Duration },
}

impl Spend {
    pub fn into_result(self) -> Result<u64, AppError> {
        match self {
            Self::Allowed { remaining } => Ok(remaining),
            Self::Refused { retry_after } => Err(AppError::RateLimited { retry_after }),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A key for the bucket table: readable prefix, hashed subject (e-mail addresses are
/// long and personal; the table needs neither).
pub fn key(kind: &str, subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}:{hex}")
}

/// Spends `cost` units of `rule` on `key` in the shared table.
pub async fn spend(
    db: &impl ConnectionTrait,
    key: &str,
    rule: Rule,
    cost: u32,
) -> Result<Spend, AppError> {
    let (interval, capacity, now) = (rule.interval_ms(), rule.capacity_ms(), now_ms());
    let increment = interval.saturating_mul(i64::from(cost));
    if increment > capacity {
        // More than the whole bucket: never allowed.
        return Ok(Spend::Refused {
            retry_after: rule.per,
        });
    }
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO rate_limit_bucket (key, tat_ms) VALUES ($1, $2 + $3)
             ON CONFLICT (key) DO UPDATE SET tat_ms = GREATEST(rate_limit_bucket.tat_ms, $2) + $3
             WHERE GREATEST(rate_limit_bucket.tat_ms, $2) + $3 - $2 <= $4
             RETURNING tat_ms"
        }
        _ => {
            "INSERT INTO rate_limit_bucket (key, tat_ms) VALUES (?1, ?2 + ?3)
             ON CONFLICT (key) DO UPDATE SET tat_ms = max(rate_limit_bucket.tat_ms, ?2) + ?3
             WHERE max(rate_limit_bucket.tat_ms, ?2) + ?3 - ?2 <= ?4
             RETURNING tat_ms"
        }
    };
    let values: Vec<Value> = vec![key.into(), now.into(), increment.into(), capacity.into()];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    match row {
        Some(row) => {
            let tat: i64 = row.try_get_by_index(0)?;
            let left = (capacity - (tat - now)).max(0) / interval;
            Ok(Spend::Allowed {
                remaining: u64::try_from(left).unwrap_or(0),
            })
        }
        None => {
            let tat = tat_of(db, key).await?.unwrap_or(now);
            let wait = (tat + increment - capacity - now).max(1);
            Ok(Spend::Refused {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
            })
        }
    }
}

/// Gives back `cost` units spent on `key` (a log-in that succeeded, a sign-up refused
/// for its input), never below an empty bucket.
pub async fn refund(
    db: &impl ConnectionTrait,
    key: &str,
    rule: Rule,
    cost: u32,
) -> Result<(), AppError> {
    let backend = db.get_database_backend();
    let decrement = rule.interval_ms().saturating_mul(i64::from(cost));
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE rate_limit_bucket SET tat_ms = GREATEST(tat_ms - $2, $3) WHERE key = $1"
        }
        _ => "UPDATE rate_limit_bucket SET tat_ms = max(tat_ms - ?2, ?3) WHERE key = ?1",
    };
    let values: Vec<Value> = vec![key.into(), decrement.into(), now_ms().into()];
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

async fn tat_of(db: &impl ConnectionTrait, key: &str) -> Result<Option<i64>, AppError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT tat_ms FROM rate_limit_bucket WHERE key = $1",
        _ => "SELECT tat_ms FROM rate_limit_bucket WHERE key = ?1",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            vec![Value::from(key)],
        ))
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get_by_index(0)?),
        None => None,
    })
}

/// Deletes buckets that have fully refilled (they mean the same as no row).
pub async fn sweep(db: &impl ConnectionTrait) -> Result<u64, AppError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "DELETE FROM rate_limit_bucket WHERE tat_ms < $1",
        _ => "DELETE FROM rate_limit_bucket WHERE tat_ms < ?1",
    };
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            vec![Value::from(now_ms())],
        ))
        .await?;
    Ok(done.rows_affected())
}

/// A slice of a cost budget taken from the database and spent locally.
#[derive(Debug)]
struct Lease {
    points: u64,
    /// What the database said was left after taking this lease.
    left_in_bucket: u64,
    taken: Instant,
}

/// What a request's cost budget looks like after charging it (Shopify's `cost`
/// extension).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub requested: u64,
    pub maximum: u64,
    pub available: u64,
    pub restore_rate: f64,
}

/// Every limit of one process, configured once.
pub struct Limiter {
    pub config: LimitsConfig,
    /// First line: requests per second per IP, in process memory.
    flood: Option<DefaultKeyedRateLimiter<IpAddr>>,
    leases: Mutex<HashMap<String, Lease>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(config: LimitsConfig) -> Self {
        let flood = NonZeroU32::new(config.ip_requests_per_second).map(|rate| {
            let burst = NonZeroU32::new(rate.get().saturating_mul(2)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            config,
            flood,
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// The in-process flood check: `Err(retry after)` when this IP sends faster than
    /// the per-second limit. Costs a hash lookup, no I/O.
    pub fn check_flood(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let (Some(flood), Some(ip)) = (&self.flood, ip) else {
            return Ok(());
        };
        flood.check_key(&ip).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }

    /// Forgets idle flood counters and expired leases (called now and then).
    pub fn forget_idle(&self) {
        if let Some(flood) = &self.flood {
            flood.retain_recent();
            flood.shrink_to_fit();
        }
        if let Ok(mut leases) = self.leases.lock() {
            leases.retain(|_, lease| lease.taken.elapsed() < LEASE_TTL);
        }
    }

    /// The bucket a request's cost is charged to: the user, the API key, or else the
    /// client's IP.
    pub fn budget_key(viewer: &Viewer, ip: Option<IpAddr>) -> String {
        match viewer {
            Viewer::User(user) => format!("cost:user:{}", user.user_id),
            Viewer::ApiKey(k) => format!("cost:key:{}", k.key_id),
            Viewer::Anonymous => key("cost:ip", &ip.map(|ip| ip.to_string()).unwrap_or_default()),
        }
    }

    /// Charges `points` to the cost budget of `bucket`, from a local lease when one
    /// covers it, else from a new lease.
    pub async fn charge(
        &self,
        db: &DatabaseConnection,
        bucket: &str,
        points: u64,
    ) -> Result<Budget, AppError> {
        let rule = self.config.cost_budget;
        let maximum = u64::from(rule.limit);
        let budget = |available: u64| Budget {
            requested: points,
            maximum,
            available,
            restore_rate: rule.per_second(),
        };
        let mut leftover = 0;
        if let Ok(mut leases) = self.leases.lock()
            && let Some(lease) = leases.get_mut(bucket)
        {
            if lease.taken.elapsed() < LEASE_TTL {
                if lease.points >= points {
                    lease.points -= points;
                    return Ok(budget(lease.left_in_bucket + lease.points));
                }
                leftover = lease.points;
            }
            leases.remove(bucket);
        }
        let need = points.saturating_sub(leftover);
        let slice = need.max(u64::from(self.config.cost_lease)).min(maximum);
        let mut spent = spend(db, bucket, rule, u32::try_from(slice).unwrap_or(u32::MAX)).await?;
        let mut taken = slice;
        if matches!(spent, Spend::Refused { .. }) && slice > need {
            // Not enough for a whole lease: maybe enough for this request alone.
            spent = spend(db, bucket, rule, u32::try_from(need).unwrap_or(u32::MAX)).await?;
            taken = need;
        }
        let left_in_bucket = spent.into_result()?;
        let points_left = taken + leftover - points;
        if let Ok(mut leases) = self.leases.lock() {
            leases.insert(
                bucket.to_owned(),
                Lease {
                    points: points_left,
                    left_in_bucket,
                    taken: Instant::now(),
                },
            );
        }
        Ok(budget(left_in_bucket + points_left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_capacity_follow_the_rule() {
        let login = Rule::new(5, Duration::from_secs(900));
        assert_eq!(login.interval_ms(), 180_000);
        assert_eq!(login.capacity_ms(), 900_000);
        let budget = Rule::new(1_000, Duration::from_secs(20));
        assert_eq!(budget.interval_ms(), 20);
        assert!((budget.per_second() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn keys_hide_their_subject_but_stay_distinct() {
        let a = key("login:account", "ada@example.com");
        assert!(a.starts_with("login:account:"));
        assert!(!a.contains("ada"));
        assert_ne!(a, key("login:account", "bob@example.com"));
        assert!(a.len() < 200);
    }
}
