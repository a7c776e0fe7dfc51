//! The service's builds: one task per image, at most `limit` holding a slot at
//! once across every cycle, resumed builds included.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{Id, JoinSet};
use tracing::{Instrument, info, info_span, warn};

use crate::build::BuildError;
use crate::catalog::Catalog;
use crate::pipeline::Pipeline;
use crate::plan::Job;
use crate::store::BuildRecord;

/// A build task's end: the image and what became of its build.
pub type Finished = (String, Result<BuildRecord, BuildError>);

pub struct BuildPool {
    permits: Arc<Semaphore>,
    limit: usize,
    tasks: JoinSet<Finished>,
    /// The image of each task, waiting for a slot or building.
    images: HashMap<Id, String>,
    /// The pipelines of tasks still running, to release their leases on shutdown.
    holders: Vec<Pipeline>,
}

impl BuildPool {
    pub fn new(limit: usize) -> BuildPool {
        BuildPool {
            permits: Arc::new(Semaphore::new(limit.max(1))),
            limit: limit.max(1),
            tasks: JoinSet::new(),
            images: HashMap::new(),
            holders: Vec::new(),
        }
    }

    /// Changes the limit for builds queued from now on; builds already queued
    /// or running keep the old limit's slots until they end, so for a while
    /// after a reload both limits may be in use.
    pub fn set_limit(&mut self, limit: usize) {
        let limit = limit.max(1);
        if limit != self.limit {
            self.permits = Arc::new(Semaphore::new(limit));
            self.limit = limit;
        }
    }

    /// The images being built or waiting for a slot, by name.
    pub fn images(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.images.values().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub fn is_busy(&self, image: &str) -> bool {
        self.images.values().any(|busy| busy == image)
    }

    /// Starts a new build unless the image already has one here.
    pub fn start(&mut self, pipeline: &Pipeline, job: Job) {
        let image = job.image.name.clone();
        if self.is_busy(&image) {
            info!(image, "already building; the new check's job is dropped");
            return;
        }
        info!(image, reason = %job.reason, "build queued");
        let task = pipeline.clone();
        self.spawn(pipeline, image, async move { task.build(&job).await });
    }

    /// Follows a build an earlier process left unfinished.
    pub fn resume(&mut self, pipeline: &Pipeline, catalog: &Catalog, record: BuildRecord) {
        let image = record.image.clone();
        if self.is_busy(&image) {
            return;
        }
        info!(image, build_id = %record.id, state = %record.state, "resuming a build");
        let catalog = catalog.clone();
        let task = pipeline.clone();
        self.spawn(pipeline, image, async move {
            task.resume(&catalog, record).await
        });
    }

    fn spawn<F>(&mut self, pipeline: &Pipeline, image: String, build: F)
    where
        F: Future<Output = Result<BuildRecord, BuildError>> + Send + 'static,
    {
        let permits = self.permits.clone();
        if !self.holders.iter().any(|held| held.same_as(pipeline)) {
            self.holders.push(pipeline.clone());
        }
        let span = info_span!("slot", image = %image);
        let name = image.clone();
        let handle = self.tasks.spawn(
            async move {
                // The semaphore is never closed, so acquiring only waits.
                let _slot = permits.acquire_owned().await;
                (name, build.await)
            }
            .instrument(span),
        );
        self.images.insert(handle.id(), image);
    }

    /// The next build to end; pending forever while there is none, so that it
    /// can sit in a `select!`.
    pub async fn next_finished(&mut self) -> Finished {
        loop {
            match self.tasks.join_next_with_id().await {
                Some(Ok((id, finished))) => {
                    self.images.remove(&id);
                    // A pipeline replaced by a reload is dropped with its last build.
                    self.holders.retain(|pipeline| pipeline.is_shared());
                    return finished;
                }
                Some(Err(error)) => {
                    let image = self.images.remove(&error.id()).unwrap_or_default();
                    warn!(image, %error, "a build task ended abnormally; its lease expires by itself");
                }
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Stops following every build without touching Azure: each build's state
    /// is already in the store before any Azure call, and AIB runs go on by
    /// themselves, so the next start resumes them. Leases are released so the
    /// next start need not wait for them to expire.
    pub async fn abandon(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        for pipeline in &self.holders {
            let ctx = pipeline.context();
            for image in self.images.values() {
                if let Err(error) = ctx.store.release(image, &ctx.holder).await {
                    warn!(image, %error, "could not release the image lease; it expires by itself");
                }
            }
        }
    }
}
