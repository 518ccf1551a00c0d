//! Live updates from the event log: what GraphQL subscriptions follow.
//!
//! Each replica tails the log ([`Broadcaster`]) and hands every new event to its
//! subscribers in memory; a subscriber keeps what concerns its feed and re-reads the
//! object through the same scoped reads as every query, for the viewer who subscribed,
//! so authorization holds for every event and not only at subscription time (a member
//! removed from a team stops receiving at once). A subscriber that falls more than the
//! broadcaster's buffer behind is cut off with `SUBSCRIBER_TOO_SLOW` and never slows the
//! others.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::{application, commission, conversion, enrollment, event};
use futures_util::Stream;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;

use super::consumer::{self, Position};
use crate::{
    auth::Viewer,
    changes::Changes,
    error::AppError,
    service::{
        Services, applications, ledger, partners, programs, programs::ProgramRecord, vendors,
    },
};

/// Events a replica keeps for its slowest subscriber before cutting it off.
pub const BUFFER: usize = 1_024;

/// One replica's tail of the log.
pub struct Broadcaster {
    sender: broadcast::Sender<Arc<event::Model>>,
    /// Where the tail stands; `None` while nobody subscribes (it then reads nothing).
    at: tokio::sync::Mutex<Option<Position>>,
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self {
            sender: broadcast::Sender::new(BUFFER),
            at: tokio::sync::Mutex::new(None),
        }
    }
}

impl Broadcaster {
    /// A receiver of every event committed from now on: the first subscriber sets where
    /// the tail starts, before it returns, so nothing committed after it is missed.
    async fn subscribe(
        &self,
        db: &DatabaseConnection,
    ) -> Result<broadcast::Receiver<Arc<event::Model>>, AppError> {
        let mut at = self.at.lock().await;
        if at.is_none() {
            *at = Some(consumer::settled_head(db).await?);
        }
        Ok(self.sender.subscribe())
    }

    /// Tails the log while anyone subscribes: a batch whenever a change is announced
    /// (this process's commits, other replicas' notifications), otherwise every `poll`.
    pub fn spawn(
        self: &Arc<Self>,
        db: DatabaseConnection,
        changes: Arc<Changes>,
        poll: Duration,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut announced = changes.subscribe();
            loop {
                match this.forward(&db).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = ?e, "subscription broadcaster could not read the log")
                    }
                }
                tokio::select! {
                    _ = announced.changed() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = stopped.changed() => break,
                }
            }
        })
    }

    /// Sends what was committed after the tail's position; `true` when there may be
    /// more. With nobody subscribed it reads nothing and forgets its position.
    async fn forward(&self, db: &DatabaseConnection) -> Result<bool, AppError> {
        let mut at = self.at.lock().await;
        if self.sender.receiver_count() == 0 {
            *at = None;
            return Ok(false);
        }
        let Some(from) = *at else {
            return Ok(false);
        };
        let events = consumer::read_after(db, from, 500).await?;
        let full = events.len() == 500;
        for e in events {
            *at = Some(Position::of(&e));
            // No receiver left is not an error: the next round forgets the position.
            let _ = self.sender.send(Arc::new(e));
        }
        Ok(full)
    }
}

/// What a subscription follows.
#[derive(Debug, Clone, Copy)]
pub enum Feed {
    /// Status changes of the viewer's own applications (as a partner).
    MyApplications,
    /// … of their partnerships.
    MyEnrollments,
    /// … of their commissions (new, approved, paid, reversed).
    MyCommissions,
    /// New applications to a program (its vendor's team).
    ApplicationsSubmitted { program_id: i64 },
    /// Decisions and withdrawals of a program's applications (its vendor's team).
    ApplicationsUpdated { program_id: i64 },
    /// Conversions reported for a program (its vendor's team).
    ConversionsRecorded { program_id: i64 },
    /// A listing's terms, status and figures (anyone who may see it).
    Program { program_id: i64 },
}

/// One update, as the viewer may see it now.
pub enum Update {
    Application(application::Model),
    Enrollment(enrollment::Model),
    Commission(commission::Model),
    Conversion(conversion::Model, Vec<commission::Model>),
    Program(Box<ProgramRecord>),
}

/// Whose events a feed keeps, resolved once when subscribing.
#[derive(Clone, Copy)]
enum Scope {
    Partner(i64),
    Team { program_id: i64, vendor_id: i64 },
    Listing(i64),
}

/// Checks that `viewer` may follow `feed` — refused like the matching read: a program
/// they cannot see, or whose team they are not on, answers `NOT_FOUND` — and returns
/// the updates from now on.
pub async fn follow(
    services: &Services,
    viewer: Viewer,
    feed: Feed,
) -> Result<impl Stream<Item = Result<Update, AppError>> + Send + use<>, AppError> {
    let scope = match feed {
        Feed::MyApplications | Feed::MyEnrollments | Feed::MyCommissions => {
            viewer.require_user()?;
            let partner = partners::mine(services, &viewer)
                .await?
                .ok_or(AppError::NotFound)?;
            Scope::Partner(partner.id)
        }
        Feed::ApplicationsSubmitted { program_id }
        | Feed::ApplicationsUpdated { program_id }
        | Feed::ConversionsRecorded { program_id } => {
            viewer.require_user()?;
            let program = programs::find(services, &viewer, program_id)
                .await?
                .ok_or(AppError::NotFound)?;
            let vendor_id = program.program.vendor_id;
            if !on_team(services, &viewer, vendor_id).await? {
                return Err(AppError::NotFound);
            }
            Scope::Team {
                program_id,
                vendor_id,
            }
        }
        Feed::Program { program_id } => {
            programs::find(services, &viewer, program_id)
                .await?
                .ok_or(AppError::NotFound)?;
            Scope::Listing(program_id)
        }
    };
    let receiver = services.broadcaster.subscribe(&services.db).await?;
    // After the receiver exists: whatever commits after this can only reach it.
    let horizon = Horizon::now(&services.db).await?;
    let state = Following {
        receiver,
        horizon,
        services: services.clone(),
        viewer,
        feed,
        scope,
        pending: std::collections::VecDeque::new(),
    };
    Ok(futures_util::stream::unfold(
        Some(state),
        |state| async move {
            let mut state = state?;
            let next = state.next().await;
            // An error ends the subscription: it is the last item.
            let ended = next.as_ref().is_none_or(Result::is_err);
            next.map(|item| (item, (!ended).then_some(state)))
        },
    ))
}

/// One subscription's place in the broadcast, and updates read but not yet sent (a
/// payment of several commissions is one event and several updates).
struct Following {
    receiver: broadcast::Receiver<Arc<event::Model>>,
    /// What had committed when it subscribed: the broadcast may still carry some of it.
    horizon: Horizon,
    services: Services,
    viewer: Viewer,
    feed: Feed,
    scope: Scope,
    pending: std::collections::VecDeque<Update>,
}

impl Following {
    /// The next update; `None` when the broadcast is gone.
    async fn next(&mut self) -> Option<Result<Update, AppError>> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Some(Ok(update));
            }
            let event = match self.receiver.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "a subscriber fell behind and was cut off");
                    return Some(Err(AppError::SubscriberTooSlow));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if self.horizon.saw(&event) || !concerns(self.feed, self.scope, &event) {
                continue;
            }
            match updates(&self.services, &self.viewer, self.feed, self.scope, &event).await {
                // Nothing the viewer may see (an empty list): keep listening.
                Ok(found) => self.pending.extend(found),
                // The right to follow is gone (removed from the team, the listing
                // unpublished): the subscription ends with the reason.
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The events committed when a subscription started, which it must not be sent.
///
/// The broadcaster's tail starts at the log's *settled* head (on PostgreSQL, below the
/// oldest transaction in flight anywhere in the cluster), so a new subscriber may be
/// handed events that had committed before it subscribed. On PostgreSQL the horizon is
/// the snapshot taken when subscribing — an event was committed then exactly when its
/// transaction is visible in that snapshot; on SQLite, which commits one writer at a time
/// in id order, it is the last id.
enum Horizon {
    Snapshot {
        xmin: i64,
        xmax: i64,
        in_flight: Vec<i64>,
    },
    LastId(i64),
}

impl Horizon {
    async fn now(db: &DatabaseConnection) -> Result<Self, AppError> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let backend = db.get_database_backend();
        if backend == DbBackend::Postgres {
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT pg_current_snapshot()::text AS s",
                ))
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("no snapshot")))?;
            let text: String = row.try_get("", "s")?;
            return Self::parse_snapshot(&text)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("unreadable snapshot {text}")));
        }
        let last = consumer::head(db).await?;
        Ok(Self::LastId(last.id))
    }

    /// `xmin:xmax:xip,xip,…` (PostgreSQL's `pg_snapshot` as text).
    fn parse_snapshot(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let in_flight = parts
            .next()?
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        Some(Self::Snapshot {
            xmin,
            xmax,
            in_flight,
        })
    }

    /// Whether `e` had committed when the subscription started.
    fn saw(&self, e: &event::Model) -> bool {
        match self {
            Self::Snapshot {
                xmin,
                xmax,
                in_flight,
            } => e.txid < *xmin || (e.txid < *xmax && !in_flight.contains(&e.txid)),
            Self::LastId(last) => e.id <= *last,
        }
    }
}

/// Whether the viewer is on the vendor's team (or a platform admin).
async fn on_team(services: &Services, viewer: &Viewer, vendor_id: i64) -> Result<bool, AppError> {
    Ok(viewer.is_admin()
        || vendors::role_of(&services.db, viewer, vendor_id)
            .await?
            .is_some())
}

/// The in-memory pre-filter: the event's type and whose business it is.
fn concerns(feed: Feed, scope: Scope, e: &event::Model) -> bool {
    let kind = e.event_type.as_str();
    match (feed, scope) {
        (Feed::MyApplications, Scope::Partner(p)) => {
            e.partner_id == Some(p) && kind.starts_with("application.")
        }
        (Feed::MyEnrollments, Scope::Partner(p)) => {
            e.partner_id == Some(p) && kind.starts_with("enrollment.")
        }
        (Feed::MyCommissions, Scope::Partner(p)) => {
            e.partner_id == Some(p)
                && (kind.starts_with("commission.") || kind.starts_with("conversion."))
        }
        (Feed::ApplicationsSubmitted { .. }, Scope::Team { program_id, .. }) => {
            e.program_id == Some(program_id) && kind == "application.submitted"
        }
        (Feed::ApplicationsUpdated { .. }, Scope::Team { program_id, .. }) => {
            e.program_id == Some(program_id)
                && kind.starts_with("application.")
                && kind != "application.submitted"
        }
        (Feed::ConversionsRecorded { .. }, Scope::Team { program_id, .. }) => {
            e.program_id == Some(program_id) && kind == "conversion.recorded"
        }
        (Feed::Program { .. }, Scope::Listing(program_id)) => {
            e.program_id == Some(program_id) && kind.starts_with("program.")
        }
        _ => false,
    }
}

/// The objects an event concerns, read for the viewer now.
async fn updates(
    services: &Services,
    viewer: &Viewer,
    feed: Feed,
    scope: Scope,
    e: &event::Model,
) -> Result<Vec<Update>, AppError> {
    if let Scope::Team { vendor_id, .. } = scope
        && !on_team(services, viewer, vendor_id).await?
    {
        return Err(AppError::Forbidden);
    }
    let subject: Vec<i64> = e.subject_id.into_iter().collect();
    Ok(match feed {
        Feed::MyApplications
        | Feed::ApplicationsSubmitted { .. }
        | Feed::ApplicationsUpdated { .. } => {
            applications::applications_by_ids(services, viewer, &subject)
                .await?
                .into_iter()
                .map(Update::Application)
                .collect()
        }
        Feed::MyEnrollments => applications::enrollments_by_ids(services, viewer, &subject)
            .await?
            .into_iter()
            .map(Update::Enrollment)
            .collect(),
        Feed::MyCommissions => {
            let ids = if e.event_type.starts_with("commission.") {
                payload_ids(&e.payload, "commissionIds", "Commission")
            } else {
                // A conversion recorded or reversed: its ledger rows.
                ledger::commissions_of(services, &subject)
                    .await?
                    .into_values()
                    .flatten()
                    .map(|c| c.id)
                    .collect()
            };
            ledger::commissions_by_ids(services, viewer, &ids)
                .await?
                .into_iter()
                .map(Update::Commission)
                .collect()
        }
        Feed::ConversionsRecorded { .. } => ledger::conversions_by_ids(services, viewer, &subject)
            .await?
            .into_iter()
            .map(|(c, rows)| Update::Conversion(c, rows))
            .collect(),
        Feed::Program { program_id } => match programs::find(services, viewer, program_id).await? {
            Some(record) => vec![Update::Program(Box::new(record))],
            // No longer visible to this viewer (unpublished): the feed ends.
            None => return Err(AppError::NotFound),
        },
    })
}

/// The ids of `type_name` objects a payload lists under `key` (as global IDs).
fn payload_ids(payload: &serde_json::Value, key: &str, type_name: &str) -> Vec<i64> {
    payload
        .get(key)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|id| {
            let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str()?).ok()?).ok()?;
            let (kind, id) = text.split_once(':')?;
            (kind == type_name).then(|| id.parse().ok()).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, txid: i64) -> event::Model {
        event::Model {
            id,
            txid,
            event_type: "program.updated".into(),
            occurred_at: chrono::Utc::now(),
            actor_user_id: None,
            actor_api_key_id: None,
            request_id: None,
            vendor_id: None,
            program_id: None,
            partner_id: None,
            subject_type: "Program".into(),
            subject_id: None,
            payload: serde_json::json!({ "v": 1 }),
        }
    }

    #[test]
    fn a_subscriber_skips_exactly_what_had_committed_when_it_subscribed() {
        let horizon = Horizon::parse_snapshot("100:105:101,103").unwrap();
        // Committed before: older than every running transaction, or finished in between.
        assert!(horizon.saw(&event(9, 99)));
        assert!(horizon.saw(&event(10, 102)));
        assert!(horizon.saw(&event(10, 104)));
        // Running then (they commit later), or started after: the subscriber gets them.
        assert!(!horizon.saw(&event(8, 101)));
        assert!(!horizon.saw(&event(11, 103)));
        assert!(!horizon.saw(&event(12, 105)));
        let quiet = Horizon::parse_snapshot("7:7:").unwrap();
        assert!(quiet.saw(&event(1, 6)) && !quiet.saw(&event(2, 7)));
        assert!(Horizon::parse_snapshot("garbage").is_none());
        let sqlite = Horizon::LastId(5);
        assert!(sqlite.saw(&event(5, 0)) && !sqlite.saw(&event(6, 0)));
    }
}
