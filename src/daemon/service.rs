//! The service loop: resume what runs in Azure, say READY, catch up on checks
//! missed while down, then check on schedule and build what is stale, until
//! SIGTERM or SIGINT; staged versions move ring by ring as they fall due.
//! SIGHUP reloads the catalog.
//!
//! Everything that can take long (checks, builds) runs in tasks, so the loop
//! always answers signals and the watchdog at once. One check runs at a time:
//! images that fall due meanwhile are checked right after it.

mod catch_up;
mod promotions;
mod reload;
mod retry;
mod setup;
mod status;
mod waits;
mod windows;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinError, JoinHandle};
use tracing::{error, info, warn};

use self::promotions::Promotions;
use self::retry::Retries;
use self::setup::{schedules, start_metrics, wire};
use self::waits::{ring, tick, wait};
use self::windows::WindowWaits;
use super::health::{DatabaseHealth, Said};
use super::notify::Notifier;
use super::pool::{BuildPool, Finished};
use super::signals::{Signal, Signals};
use crate::app::{App, AppError, Tuning};
use crate::build::BuildError;
use crate::catalog::{self, Catalog};
use crate::check::CheckError;
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::model::CheckTrigger;
use crate::pipeline::Pipeline;
use crate::plan::{Plan, Selection};
use crate::report::chain;
use crate::schedule::{Alarm, CatalogSchedules, CronAlarm, ScheduleError};
use crate::store::{ClaimError, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("listen for signals")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("find builds to resume")]
    Store(#[from] StoreError),
    #[error("read the catalog's schedules")]
    Schedule(#[from] ScheduleError),
    #[error("set up notifications")]
    Notify(#[from] crate::notify::NotifyError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::ServerError),
}

/// What the service is started with besides the catalog.
pub struct ServiceConfig {
    /// Read again on SIGHUP.
    pub catalog_path: PathBuf,
    pub database: PathBuf,
    pub clock: SharedClock,
    /// Polling intervals, the same as every command's.
    pub tuning: Tuning,
    /// How often to send `WATCHDOG=1`; `None` when systemd armed no watchdog.
    pub watchdog: Option<Duration>,
    /// First wait before a failed check is tried again; it doubles up to 30 minutes.
    pub check_retry: chrono::Duration,
}

/// The production [`ServiceConfig::check_retry`].
pub const CHECK_RETRY_FIRST: chrono::Duration = chrono::Duration::minutes(1);

/// Runs the service until SIGTERM or SIGINT.
pub async fn serve(
    mut config: ServiceConfig,
    catalog: Catalog,
    notifier: Notifier,
) -> Result<(), DaemonError> {
    // A core of this process (the watchdog's SIGABRT) would hold tokens and
    // secrets, and a non-dumpable process cannot be ptraced by its own user.
    if let Err(error) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        warn!(%error, "could not mark the process non-dumpable");
    }
    let mut signals = Signals::install().map_err(DaemonError::Signals)?;
    let metrics = Metrics::new();
    config.tuning.arm.observer = Some(metrics.arm_observer());
    let listen = catalog.service.metrics_listen;
    let store = Store::open(&config.database).await?;
    // tokio-cron-scheduler, as the product chose, but only as a UTC alarm for
    // instants the schedule module computes (see crate::schedule for why).
    let alarm = Box::new(CronAlarm::new(config.clock.clone()));
    let mut service = Service::new(config, store, catalog, notifier, alarm, metrics).await?;
    let endpoint = start_metrics(&service.metrics, &service.store, listen, &service.health).await?;
    service.resume_unfinished().await?;
    if let Some((_, probes)) = &endpoint {
        probes.set_ready();
    }
    service.notifier.ready(&service.status_line());
    info!(status = %service.status_line(), "ready");
    service.catch_up().await;
    service.run(&mut signals).await;
    service.stop().await;
    Ok(())
}

/// When the next check falls due and for which images.
type NextDue = Option<(DateTime<Utc>, Vec<String>)>;

/// A running check: the catalog subset it covers and its task.
type CheckTask = JoinHandle<(Catalog, Result<Plan, CheckError>)>;

struct Service {
    config: ServiceConfig,
    notifier: Notifier,
    store: Store,
    /// The catalog, ARM client and clock the pipeline runs on.
    app: App,
    schedules: CatalogSchedules,
    pipeline: Pipeline,
    pool: BuildPool,
    alarm: Box<dyn Alarm>,
    check: Option<CheckTask>,
    /// A catalog being read for SIGHUP: off the loop, since a large one takes
    /// seconds (100,000 images: about 9 s) and signals must still be answered.
    reloading: Option<JoinHandle<Result<Catalog, catalog::CatalogError>>>,
    /// Images due while a check ran; checked as soon as it ends.
    pending: BTreeSet<String>,
    pending_trigger: CheckTrigger,
    /// Due instants up to here have been acted on.
    cursor: DateTime<Utc>,
    /// The next due instant after `cursor`, computed once per cursor move or
    /// catalog change rather than on every turn of the loop.
    due: std::cell::RefCell<Option<(DateTime<Utc>, NextDue)>>,
    /// Failed checks and builds let go of, to try again with backoff.
    retries: Retries,
    /// Stale images waiting for their build window to open.
    windows: WindowWaits,
    /// When a staged version's next ring moves.
    promotions: Promotions,
    health: DatabaseHealth,
    /// The outbox sender's task, restarted with each catalog's `[[notify]]`.
    notifications: Option<tokio::task::AbortHandle>,
    metrics: Metrics,
    /// Whether the history has been compared with Azure since the start (see
    /// `reconcile`); a reload does not compare again.
    reconciled: bool,
}

impl Service {
    async fn new(
        config: ServiceConfig,
        store: Store,
        catalog: Catalog,
        notifier: Notifier,
        alarm: Box<dyn Alarm>,
        metrics: Metrics,
    ) -> Result<Service, DaemonError> {
        let schedules = schedules(&catalog)?;
        let pool = BuildPool::new(catalog.service.max_concurrent_builds);
        let (app, pipeline) = wire(&config, &store, catalog).await?;
        metrics.watch(&app.catalog, &pipeline);
        let cursor = config.clock.now();
        let health = DatabaseHealth::new(store.path().to_owned());
        let retries = Retries::new(config.check_retry);
        let notifications = crate::notify::sender(&app)?
            .with_metrics(metrics.clone())
            .spawn(notify_every(&config));
        Ok(Service {
            notifications,
            pool,
            alarm,
            notifier,
            store,
            schedules,
            pipeline,
            app,
            config,
            check: None,
            reloading: None,
            pending: BTreeSet::new(),
            pending_trigger: CheckTrigger::Schedule,
            cursor,
            due: std::cell::RefCell::new(None),
            retries,
            windows: WindowWaits::default(),
            promotions: Promotions::default(),
            health,
            metrics,
            reconciled: false,
        })
    }

    /// Picks up every build an earlier process left unfinished; AIB runs went
    /// on in Azure meanwhile, and the build machine asks Azure where they are.
    async fn resume_unfinished(&mut self) -> Result<(), DaemonError> {
        self.reconcile().await;
        self.pipeline.finish_revocations().await;
        crate::build::release_dead_leases(self.pipeline.context()).await;
        for build in self.pipeline.unfinished().await? {
            self.pool.resume(&self.pipeline, &self.app.catalog, build);
        }
        self.refresh_promotions().await;
        Ok(())
    }

    /// Compares the history with Azure once (see `reconcile`); until that
    /// worked, checks run but their builds wait, since one could repeat a
    /// build Azure already has or run beside one that is going.
    async fn reconcile(&mut self) -> bool {
        if !self.reconciled {
            match self.pipeline.reconcile(&self.app.catalog).await {
                Ok(_) => self.reconciled = true,
                Err(error) => {
                    if self.failed("compare the history with Azure", &error) {
                        warn!(error = %chain(&error), "cannot compare the history with Azure; builds wait until it answers");
                    }
                }
            }
        }
        self.reconciled
    }

    async fn run(&mut self, signals: &mut Signals) {
        let mut watchdog = self.config.watchdog.map(tokio::time::interval);
        loop {
            let scheduled = self.next_due().map(|(at, _)| at);
            let next = [
                scheduled,
                self.retries.next(),
                self.windows.next(),
                self.promotions.next(),
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                // Signals first, then the watchdog: however busy the rest is, SIGTERM
                // is answered and systemd hears the service is alive.
                biased;
                signal = signals.recv() => match signal {
                    Signal::Stop(name) => {
                        info!(signal = name, "stopping; AIB runs keep going in Azure and are resumed on the next start");
                        return;
                    }
                    Signal::Reload => self.reload(),
                },
                _ = tick(&mut watchdog) => self.notifier.watchdog(),
                _ = ring(self.alarm.as_ref(), next) => self.fire_due().await,
                checked = wait(&mut self.check) => self.checked(checked).await,
                loaded = wait(&mut self.reloading) => self.reloaded(loaded).await,
                finished = self.pool.next_finished() => self.finished(finished).await,
                pass = wait(&mut self.promotions.running) => self.promoted(pass).await,
            }
        }
    }

    async fn fire_due(&mut self) {
        // Builds whose resume failed earlier (say, a crashed process's lease
        // had not expired yet) are picked up again with every due check.
        let now = self.config.clock.now();
        self.retries.take_due_resume(now);
        if let Err(error) = self.resume_unfinished().await {
            if self.failed("look for unfinished builds", &error) {
                warn!(error = %chain(&error), "cannot look for unfinished builds; trying again later");
            }
            self.resume_later();
        }
        let mut due = BTreeSet::new();
        while let Some((at, images)) = self.next_due() {
            if at > now {
                break;
            }
            due.extend(images);
            self.cursor = at;
        }
        due.extend(self.retries.take_due_checks(now));
        let opened = self.windows.take_due(now);
        if !opened.is_empty() {
            info!(
                images = opened.len(),
                "build windows opened; checking the images that wait for them"
            );
            due.extend(opened);
        }
        if !due.is_empty() {
            self.request_check(due, CheckTrigger::Schedule);
        }
        self.promotions.start_due(&self.pipeline, now);
    }

    /// Remembers images whose check failed, to try them again with backoff.
    /// `checked` are the images the finished check covered: retries owed by
    /// other images are kept.
    fn schedule_retry(&mut self, checked: &Catalog, failed: BTreeSet<String>) {
        let now = self.config.clock.now();
        self.retries
            .check_ended(|name| checked.image(name).is_some(), failed, now);
    }

    fn resume_later(&mut self) {
        let now = self.config.clock.now();
        self.retries.resume_later(now);
    }

    /// Hands a failure to the database's health, which says a disk fault once;
    /// true when the caller should report it itself.
    fn failed(&mut self, doing: &str, error: &(dyn std::error::Error + 'static)) -> bool {
        let now = self.config.clock.now();
        self.health.failed(doing, error, now) == Said::NotDisk
    }

    fn wrote(&mut self) {
        let now = self.config.clock.now();
        self.health.wrote(now);
    }

    fn request_check(&mut self, images: impl IntoIterator<Item = String>, trigger: CheckTrigger) {
        self.pending.extend(images);
        if self.pending_trigger != CheckTrigger::Startup {
            self.pending_trigger = trigger;
        }
        if self.check.is_some() {
            info!(
                waiting = self.pending.len(),
                "a check is running; the due images are checked after it"
            );
            return;
        }
        self.start_check();
    }

    fn start_check(&mut self) {
        let mut subset = self.app.catalog.clone();
        subset
            .images
            .retain(|image| self.pending.contains(&image.name));
        let trigger = std::mem::replace(&mut self.pending_trigger, CheckTrigger::Schedule);
        self.pending.clear();
        if subset.images.is_empty() {
            return;
        }
        info!(images = subset.images.len(), %trigger, "checking");
        let pipeline = self.pipeline.clone();
        self.check = Some(tokio::spawn(async move {
            let plan = pipeline.check(&subset, trigger).await;
            (subset, plan)
        }));
        self.update_status();
    }

    async fn checked(&mut self, checked: Result<(Catalog, Result<Plan, CheckError>), JoinError>) {
        self.check = None;
        match checked {
            Ok((subset, Ok(plan))) => {
                self.wrote();
                self.windows.checked(&plan);
                let stale = plan.stale().count();
                info!(check_id = %plan.check_id, images = plan.entries.len(), stale, "check done");
                let mut again: BTreeSet<String> =
                    plan.retryable().map(|e| e.image.clone()).collect();
                let jobs = plan.jobs(&subset, Selection::Stale);
                let unreconciled = !jobs.is_empty() && !self.reconcile().await;
                for job in jobs {
                    if unreconciled {
                        again.insert(job.image.name.clone());
                        continue;
                    }
                    match self.still_enabled(&job.image.name).await {
                        Some(true) => self.pool.start(&self.pipeline, job),
                        Some(false) => {}
                        None => {
                            again.insert(job.image.name.clone());
                        }
                    }
                }
                self.schedule_retry(&subset, again);
            }
            Ok((subset, Err(error))) => {
                if self.failed("check", &error) {
                    error!(error = %chain(&error), "check failed");
                }
                let failed = subset.images.iter().map(|i| i.name.clone()).collect();
                self.schedule_retry(&subset, failed);
            }
            Err(error) => error!(%error, "the check task ended abnormally"),
        }
        if !self.pending.is_empty() {
            self.start_check();
        }
        self.update_status();
    }

    /// Whether the image is still enabled: a build that ended while the check
    /// ran may have disabled it after the check decided. `None` when that
    /// cannot be read; the image is then checked again later.
    async fn still_enabled(&mut self, image: &str) -> Option<bool> {
        match self.store.image_state(image).await {
            Ok(state) => Some(state.is_none_or(|state| state.enabled)),
            Err(error) => {
                if self.failed(&format!("read whether {image} is enabled"), &error) {
                    warn!(image, error = %chain(&error), "cannot read whether the image is enabled; not building it now");
                }
                None
            }
        }
    }

    async fn finished(&mut self, (image, result): Finished) {
        if result.is_ok() {
            // The build's final state is in the history.
            self.wrote();
            self.retries.build_recorded();
            // It may have staged a version whose first ring is due.
            self.refresh_promotions().await;
            let now = self.config.clock.now();
            self.promotions.start_due(&self.pipeline, now);
        }
        match result {
            Ok(build) if build.state.is_success() => {
                info!(image, build_id = %build.id, state = %build.state, "build finished");
            }
            Ok(build) => {
                // The failure limit was applied with the build's final state.
                warn!(
                    image,
                    build_id = %build.id,
                    state = %build.state,
                    message = build.error_message.as_deref().unwrap_or("no message from AIB"),
                    "build did not succeed"
                );
            }
            Err(BuildError::Claim(claim)) if !matches!(claim, ClaimError::Store(_)) => {
                info!(image, reason = %claim, "not building")
            }
            // Not a failed build: nothing is final. A build left unfinished in
            // the history is resumed where it stopped; a job that never got as
            // far as its first record is found stale again by the re-check (which
            // decides "in progress" for the other kind, so nothing is doubled).
            Err(error) => {
                if self.failed(&format!("build {image}"), &error) {
                    warn!(image, error = %chain(&error),
                        "build interrupted; trying again later (an AIB run already started goes on)");
                }
                self.resume_later();
                let now = self.config.clock.now();
                self.retries.check_again(image, now);
            }
        }
        self.update_status();
    }

    fn next_due(&self) -> NextDue {
        let mut memo = self.due.borrow_mut();
        match &*memo {
            Some((cursor, next)) if *cursor == self.cursor => next.clone(),
            _ => {
                let next = self.schedules.next_due(self.cursor);
                *memo = Some((self.cursor, next.clone()));
                next
            }
        }
    }

    async fn stop(self) {
        self.notifier.stopping();
        if let Some(notifications) = &self.notifications {
            notifications.abort();
        }
        if let Some(check) = self.check {
            // An unfinished check is only a row without an end; nothing in Azure.
            check.abort();
        }
        self.pool.abandon().await;
        self.store.close().await;
        info!("stopped");
    }
}

/// The sender's pace: [`crate::notify::EVERY`], or the shortened poll interval
/// of the simulator and tests.
fn notify_every(config: &ServiceConfig) -> Duration {
    config
        .tuning
        .poll_interval
        .map_or(crate::notify::EVERY, |poll| poll.min(crate::notify::EVERY))
}
