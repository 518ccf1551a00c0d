//! A fault-injecting wrapper around an engine, for tests of failure behaviour: switch it
//! down (every call fails at once) or hanging (calls never answer), then back up.

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use super::{Change, Rebuild, SearchError, SearchIndex, SearchRequest, SearchResponse};

const UP: u8 = 0;
const DOWN: u8 = 1;
const HANGING: u8 = 2;

/// Controls a [`FaultyIndex`] from a test.
#[derive(Clone, Default)]
pub struct FaultSwitch(Arc<AtomicU8>);

impl FaultSwitch {
    pub fn up(&self) {
        self.0.store(UP, Ordering::SeqCst);
    }

    pub fn down(&self) {
        self.0.store(DOWN, Ordering::SeqCst);
    }

    pub fn hang(&self) {
        self.0.store(HANGING, Ordering::SeqCst);
    }
}

pub struct FaultyIndex {
    inner: Arc<dyn SearchIndex>,
    switch: FaultSwitch,
}

impl FaultyIndex {
    pub fn wrap(inner: Arc<dyn SearchIndex>) -> (Self, FaultSwitch) {
        let switch = FaultSwitch::default();
        (
            Self {
                inner,
                switch: switch.clone(),
            },
            switch,
        )
    }

    async fn gate(&self) -> Result<(), SearchError> {
        match self.switch.0.load(Ordering::SeqCst) {
            DOWN => Err(SearchError::Unavailable(
                "injected fault: engine down".into(),
            )),
            HANGING => {
                std::future::pending::<()>().await;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl SearchIndex for FaultyIndex {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<(), SearchError> {
        self.gate().await?;
        self.inner.apply(changes).await
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        self.gate().await?;
        self.inner.search(request).await
    }

    async fn health(&self) -> Result<(), SearchError> {
        self.gate().await?;
        self.inner.health().await
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError> {
        self.gate().await?;
        self.inner.rebuild().await
    }
}
