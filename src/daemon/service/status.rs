//! The one line systemd shows (`STATUS=`) and the next-check gauge.

use super::Service;

impl Service {
    pub(super) fn status_line(&self) -> String {
        let next = match self.next_due() {
            Some((at, _)) => format!("next check {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "no check scheduled".to_owned(),
        };
        let checking = if self.check.is_some() {
            "; checking"
        } else {
            ""
        };
        let builds = self.pool.images();
        let building = match builds.len() {
            0 => String::new(),
            n => format!("; {n} building: {}", builds.join(", ")),
        };
        let waiting = match (self.windows.len(), self.windows.next()) {
            (0, _) | (_, None) => String::new(),
            (n, Some(at)) => format!(
                "; {n} waiting for a build window (next opens {})",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        };
        let ring = match self.promotions.next() {
            Some(at) => format!("; next ring moves {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => String::new(),
        };
        format!("{next}{checking}{building}{waiting}{ring}")
    }

    pub(super) fn update_status(&self) {
        self.metrics
            .set_next_check(self.next_due().map(|(at, _)| at));
        self.notifier.status(&self.status_line());
    }
}
