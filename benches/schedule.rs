//! What the service loop spends on its schedules each turn: `next_due` over a
//! catalog of 150 images, each on its own every-second cron with an hour of
//! jitter asked for (security finding 4: before jitter was bounded by the
//! cron's period, this cost about 0.45 s per schedule per turn).
//!
//! Run with `cargo bench --bench schedule`.

use std::time::{Duration, Instant};

use image_refresh::catalog::{self, ScheduleSettings};
use image_refresh::schedule::CatalogSchedules;

const IMAGES: usize = 150;
const TURNS: u32 = 1_000;

fn main() {
    let mut catalog = catalog::parse(catalog::CLASSIC, "image-refresh.toml").expect("classic");
    let template = catalog.images[0].clone();
    catalog.images = (0..IMAGES)
        .map(|i| {
            let mut image = template.clone();
            image.name = format!("image-{i}");
            // Set here, not parsed: validate refuses such a schedule now.
            image.schedule = Some(ScheduleSettings {
                cron: "* * * * * *".to_owned(),
                timezone: chrono_tz::UTC,
                jitter: Some(Duration::from_secs(3600)),
            });
            image
        })
        .collect();
    let started = Instant::now();
    let schedules = CatalogSchedules::new(&catalog, "bench").expect("schedules");
    let built = started.elapsed();
    let now = chrono::Utc::now();
    let started = Instant::now();
    let mut due = 0;
    for turn in 0..TURNS {
        let at = now + chrono::Duration::milliseconds(i64::from(turn) * 37);
        due += schedules.next_due(at).map_or(0, |(_, images)| images.len());
    }
    let per_turn = started.elapsed() / TURNS;
    println!(
        "{IMAGES} every-second schedules, 1 h jitter asked for: built in {built:?}, \
         next_due {per_turn:?} per loop turn ({due} image-dues over {TURNS} turns)"
    );
}
