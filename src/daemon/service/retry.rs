//! Work that failed is tried again with backoff, not only at the next scheduled time,
//! which may be weeks away: checks that could not finish (Azure unreachable, the disk
//! full, …) and builds the service stopped following because their state could not be
//! written (their AIB runs go on meanwhile).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use tracing::info;

/// Longest wait between two tries.
const MAX_WAIT: Duration = Duration::minutes(30);

pub(super) struct Retries {
    /// The first wait; each try in a row doubles it up to [`MAX_WAIT`].
    first: Duration,
    check: Option<CheckRetry>,
    /// Check retries already made in a row.
    check_attempts: u32,
    /// When to look for unfinished builds again.
    resume_at: Option<DateTime<Utc>>,
    resume_attempts: u32,
}

/// Images whose check could not finish, and when to try them again.
struct CheckRetry {
    at: DateTime<Utc>,
    images: BTreeSet<String>,
    attempt: u32,
}

impl Retries {
    pub fn new(first: Duration) -> Retries {
        Retries {
            first,
            check: None,
            check_attempts: 0,
            resume_at: None,
            resume_attempts: 0,
        }
    }

    /// The earliest instant something is to be tried again.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        [self.check.as_ref().map(|c| c.at), self.resume_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The images whose check is due again at `now`. Taken, so that a due retry cannot
    /// ring again while its check runs; the attempt count stays for the next backoff.
    pub fn take_due_checks(&mut self, now: DateTime<Utc>) -> BTreeSet<String> {
        let Some(retry) = self.check.take_if(|retry| retry.at <= now) else {
            return BTreeSet::new();
        };
        info!(
            images = retry.images.len(),
            attempt = retry.attempt,
            "retrying the check that failed"
        );
        self.check_attempts = retry.attempt + 1;
        retry.images
    }

    /// Whether looking for unfinished builds is due at `now`; it is then no longer owed.
    pub fn take_due_resume(&mut self, now: DateTime<Utc>) -> bool {
        let due = self.resume_at.is_some_and(|at| at <= now);
        if due {
            self.resume_at = None;
        }
        due
    }

    /// Records the end of a check: `failed` are its images to try again, `covered`
    /// says which images it checked (retries owed by the others are kept).
    pub fn check_ended(
        &mut self,
        covered: impl Fn(&str) -> bool,
        failed: BTreeSet<String>,
        now: DateTime<Utc>,
    ) {
        let mut images = failed;
        if let Some(retry) = &self.check {
            images.extend(retry.images.iter().filter(|name| !covered(name)).cloned());
        }
        if images.is_empty() {
            self.check = None;
            self.check_attempts = 0;
            return;
        }
        let attempt = self
            .check
            .as_ref()
            .map_or(self.check_attempts, |r| r.attempt.max(self.check_attempts));
        let at = now + self.wait(attempt);
        info!(images = images.len(), retry_at = %at, "the check is tried again at retry_at");
        self.check = Some(CheckRetry {
            at,
            images,
            attempt,
        });
    }

    /// Owes a check of `image`: with the retry already owed, if there is one, so as not
    /// to put that one off.
    pub fn check_again(&mut self, image: String, now: DateTime<Utc>) {
        match &mut self.check {
            Some(retry) => {
                retry.images.insert(image);
            }
            None => self.check_ended(|_| false, BTreeSet::from([image]), now),
        }
    }

    /// Owes a look for unfinished builds after a backoff, unless one is owed already.
    pub fn resume_later(&mut self, now: DateTime<Utc>) {
        if self.resume_at.is_some() {
            return;
        }
        let at = now + self.wait(self.resume_attempts);
        self.resume_attempts += 1;
        info!(resume_at = %at, "builds this service stopped following are resumed at resume_at");
        self.resume_at = Some(at);
    }

    /// A build ended with its state written: the next resume backoff starts over.
    pub fn build_recorded(&mut self) {
        self.resume_attempts = 0;
    }

    fn wait(&self, attempt: u32) -> Duration {
        (self.first * 2i32.saturating_pow(attempt.min(10))).min(MAX_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minutes)
    }

    fn images(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_failing_check_backs_off_doubling_up_to_half_an_hour() {
        let mut retries = Retries::new(Duration::minutes(1));
        let mut now = at(0);
        let mut waits = Vec::new();
        for _ in 0..7 {
            retries.check_ended(|_| true, images(&["a"]), now);
            let due = retries.next().unwrap();
            waits.push((due - now).num_minutes());
            assert!(
                retries
                    .take_due_checks(due - Duration::seconds(1))
                    .is_empty()
            );
            assert_eq!(retries.take_due_checks(due), images(&["a"]));
            assert_eq!(retries.next(), None, "taken while its check runs");
            now = due;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        retries.check_ended(|_| true, BTreeSet::new(), now);
        retries.check_ended(|_| true, images(&["a"]), now);
        assert_eq!(
            retries.next(),
            Some(now + Duration::minutes(1)),
            "a success starts over"
        );
    }

    #[test]
    fn a_check_of_other_images_keeps_what_is_owed() {
        let mut retries = Retries::new(Duration::minutes(1));
        retries.check_ended(|_| true, images(&["a", "b"]), at(0));
        retries.check_ended(|name| name == "c", BTreeSet::new(), at(0));
        assert_eq!(retries.take_due_checks(at(5)), images(&["a", "b"]));
    }

    #[test]
    fn an_interrupted_build_joins_the_check_retry_already_owed() {
        let mut retries = Retries::new(Duration::minutes(1));
        retries.check_ended(|_| true, images(&["a"]), at(0));
        retries.check_again("b".to_owned(), at(0) + Duration::seconds(50));
        assert_eq!(retries.next(), Some(at(1)), "not put off");
        assert_eq!(retries.take_due_checks(at(1)), images(&["a", "b"]));
        retries.check_again("c".to_owned(), at(1));
        assert_eq!(
            retries.take_due_checks(at(3)),
            images(&["c"]),
            "backed off once more"
        );
    }

    #[test]
    fn resuming_is_owed_once_and_backs_off_until_a_build_is_recorded() {
        let mut retries = Retries::new(Duration::minutes(1));
        retries.resume_later(at(0));
        retries.resume_later(at(0));
        assert_eq!(retries.next(), Some(at(1)), "owed once");
        assert!(!retries.take_due_resume(at(0)));
        assert!(retries.take_due_resume(at(1)));
        assert!(!retries.take_due_resume(at(1)), "no longer owed");
        retries.resume_later(at(1));
        assert_eq!(retries.next(), Some(at(3)));
        retries.take_due_resume(at(3));
        retries.build_recorded();
        retries.resume_later(at(3));
        assert_eq!(retries.next(), Some(at(4)));
    }
}
