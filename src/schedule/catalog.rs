//! Every enabled image of a catalog with the schedule it follows.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::expr::{Schedule, ScheduleError};
use crate::catalog::{Catalog, ScheduleSettings};

/// The schedule of images when the catalog has no `[schedule]`: daily at 06:00 UTC.
pub const DEFAULT_CRON: &str = "0 6 * * *";

/// Which images are due when, for one catalog.
#[derive(Debug, Clone)]
pub struct CatalogSchedules {
    /// Distinct schedules; images following the catalog's share one entry.
    schedules: Vec<Schedule>,
    /// Image name and index into `schedules`, in catalog order.
    images: Vec<(String, usize)>,
    default_used: bool,
}

impl CatalogSchedules {
    /// `instance` identifies this daemon (e.g. the host name): it salts the jitter so that
    /// hosts sharing a catalog spread out, while restarts of one host keep their due times.
    pub fn new(catalog: &Catalog, instance: &str) -> Result<CatalogSchedules, ScheduleError> {
        let default = ScheduleSettings {
            cron: DEFAULT_CRON.to_owned(),
            timezone: Tz::UTC,
            jitter: None,
        };
        let global_settings = catalog.schedule.as_ref().unwrap_or(&default);
        // Images on the catalog's schedule share one jitter key so that they fall due
        // together and are checked in one cycle.
        let mut schedules = vec![Schedule::new(global_settings, &format!("{instance}/*"))?];
        let mut images = Vec::new();
        let mut default_used = false;
        for image in catalog.images.iter().filter(|image| image.enabled) {
            let index = match &image.schedule {
                Some(own) => {
                    schedules.push(Schedule::new(own, &format!("{instance}/{}", image.name))?);
                    schedules.len() - 1
                }
                None => {
                    default_used |= catalog.schedule.is_none();
                    0
                }
            };
            images.push((image.name.clone(), index));
        }
        Ok(CatalogSchedules {
            schedules,
            images,
            default_used,
        })
    }

    /// Whether some image follows [`DEFAULT_CRON`] because the catalog has no `[schedule]`;
    /// the service should say so in its start-up log.
    pub fn uses_default(&self) -> bool {
        self.default_used
    }

    /// The schedule an enabled image follows.
    pub fn schedule_for(&self, image: &str) -> Option<&Schedule> {
        self.images
            .iter()
            .find(|(name, _)| name == image)
            .map(|(_, index)| &self.schedules[*index])
    }

    /// Images owed a check at `now`: a due instant passed since their last check.
    ///
    /// `last_check` is the time of the image's last check *attempt*: feed it
    /// `ImageState::last_check_at` from the store, but also the start of a failed attempt,
    /// otherwise an image whose check fails is due again at once. `None` (never checked)
    /// makes an image due, so a fresh install checks everything at start-up.
    pub fn due_images(
        &self,
        last_check: impl Fn(&str) -> Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        self.images
            .iter()
            .filter(|(name, index)| {
                self.schedules[*index]
                    .missed_since(last_check(name), now)
                    .is_some()
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The next due instant strictly after `now` and every image due then, in catalog order.
    ///
    /// `None` when no enabled image will ever be due again.
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Vec<String>)> {
        let next: Vec<Option<DateTime<Utc>>> = self
            .schedules
            .iter()
            .enumerate()
            .map(|(index, schedule)| {
                let followed = self.images.iter().any(|(_, i)| *i == index);
                followed.then(|| schedule.next_after(now)).flatten()
            })
            .collect();
        let earliest = next.iter().flatten().min().copied()?;
        let images = self
            .images
            .iter()
            .filter(|(_, index)| next[*index] == Some(earliest))
            .map(|(name, _)| name.clone())
            .collect();
        Some((earliest, images))
    }
}
