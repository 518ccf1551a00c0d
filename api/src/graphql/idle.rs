//! When to run a batch: once the request has nothing left to do but wait.
//!
//! A DataLoader collects the keys its resolvers ask for and loads them in one query;
//! the question is when the batch is complete. A timer (async-graphql's default, 1 ms)
//! adds latency to every nesting level, and a zero-length timer fires too early:
//! async-graphql resolves lists of more than 30 items through `FuturesUnordered`, which
//! hands control back to the executor after two self-woken children, so a 100-program
//! page loaded its rules in 50 statements (1,900 statements logged in, under load).
//!
//! [`UntilIdle`] wraps one execution and counts the polls after which it is *idle*:
//! it returned `Pending` without having woken itself (as `FuturesUnordered` does when
//! it yields), so every resolver still running waits on a loader or on I/O and no more
//! keys can arrive. (A wake deferred by tokio — `yield_now`, an exhausted coop budget —
//! reaches the executor after the poll and is not seen: a batch may then be split, never
//! lost.) A load spawned during a poll waits for the next idle poll
//! ([`IdleSignal::after`]), then runs with every key registered by then.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use tokio::sync::watch;

/// Counts the idle polls of one execution.
#[derive(Debug)]
pub struct IdleSignal(watch::Sender<u64>);

impl IdleSignal {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(watch::Sender::new(0)))
    }

    /// Resolves after the execution's next idle poll (counted from now, the moment a
    /// load is spawned).
    pub fn after(&self) -> impl Future<Output = ()> + Send + 'static {
        let start = *self.0.borrow();
        let mut rx = self.0.subscribe();
        async move {
            // An error means the execution is gone (finished or cancelled): load anyway,
            // nobody waits for more keys.
            let _ = rx.wait_for(|polls| *polls > start).await;
        }
    }

    fn idle(&self) {
        self.0.send_modify(|polls| *polls += 1);
    }
}

/// Forwards wake-ups to the executor and notes that one happened.
struct NotingWaker {
    woken: AtomicBool,
    inner: Waker,
}

impl Wake for NotingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.inner.wake_by_ref();
    }
}

/// An execution whose idle polls are reported to its [`IdleSignal`].
pub struct UntilIdle<F> {
    inner: Pin<Box<F>>,
    signal: Arc<IdleSignal>,
}

impl<F: Future> UntilIdle<F> {
    pub fn new(inner: F, signal: Arc<IdleSignal>) -> Self {
        Self {
            inner: Box::pin(inner),
            signal,
        }
    }
}

impl<F: Future> Future for UntilIdle<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let noting = Arc::new(NotingWaker {
            woken: AtomicBool::new(false),
            inner: cx.waker().clone(),
        });
        let waker = Waker::from(noting.clone());
        let mut inner_cx = Context::from_waker(&waker);
        match self.inner.as_mut().poll(&mut inner_cx) {
            Poll::Ready(output) => Poll::Ready(output),
            Poll::Pending => {
                if !noting.woken.load(Ordering::Acquire) {
                    self.signal.idle();
                }
                Poll::Pending
            }
        }
    }
}

/// A stream of executions (a subscription: each event resolves its fields anew) whose
/// idle polls are reported to its [`IdleSignal`], as [`UntilIdle`] does for one.
pub struct UntilIdleStream<S> {
    inner: Pin<Box<S>>,
    signal: Arc<IdleSignal>,
}

impl<S: futures_util::Stream> UntilIdleStream<S> {
    pub fn new(inner: S, signal: Arc<IdleSignal>) -> Self {
        Self {
            inner: Box::pin(inner),
            signal,
        }
    }
}

impl<S: futures_util::Stream> futures_util::Stream for UntilIdleStream<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let noting = Arc::new(NotingWaker {
            woken: AtomicBool::new(false),
            inner: cx.waker().clone(),
        });
        let waker = Waker::from(noting.clone());
        let mut inner_cx = Context::from_waker(&waker);
        match self.inner.as_mut().poll_next(&mut inner_cx) {
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => {
                if !noting.woken.load(Ordering::Acquire) {
                    self.signal.idle();
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn a_load_waits_until_the_execution_stops_waking_itself() {
        let signal = IdleSignal::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // Spawned at the start, as a DataLoader spawns its load with the first key.
        let waiting = signal.after();
        let log = order.clone();
        let load = tokio::spawn(async move {
            waiting.await;
            log.lock().map(|mut o| o.push("load")).ok();
            let _ = tx.send(());
        });
        // Busy: 50 polls that each wake themselves as FuturesUnordered does (more keys
        // could still come), then it waits for the load's answer.
        let log = order.clone();
        let execution = UntilIdle::new(
            async move {
                for _ in 0..50 {
                    WakeSelf(false).await;
                }
                log.lock().map(|mut o| o.push("all keys")).ok();
                rx.await.is_ok()
            },
            signal.clone(),
        );
        let answered = tokio::time::timeout(std::time::Duration::from_secs(5), execution).await;
        assert_eq!(answered.ok(), Some(true));
        assert!(load.await.is_ok());
        assert_eq!(
            *order.lock().map(|o| o.clone()).unwrap_or_default(),
            ["all keys", "load"]
        );
    }

    /// Pending once, having woken its task directly (`wake_by_ref` inside the poll).
    struct WakeSelf(bool);

    impl Future for WakeSelf {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
