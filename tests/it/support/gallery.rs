//! The classic image distributed to the scenario's gallery in two regions, and
//! what a consumer of that gallery sees (`revoke`, `promotion`).

use image_refresh::app::{App, Tuning};
use image_refresh::azure::gallery::{self, GalleryImageRef, GalleryImageVersion};
use image_refresh::catalog;

use super::setup::{self, IMAGE};
use super::world::World;

pub const DEFINITION: &str = setup::GALLERY_IMAGE;
pub const REGIONS: [&str; 2] = ["westeurope", "northeurope"];

/// The catalog: one gallery target in both regions, with `target_extra` last in its table.
pub fn catalog(world: &World, target_extra: &str) -> String {
    let mut text = setup::catalog(&world.sim, &world.secret_file, "", &[] as &[&str]);
    let target = format!(
        "type = \"gallery\"\nimage_id = \"{DEFINITION}\"\nregions = [\"westeurope\", \"northeurope\"]\n{target_extra}"
    );
    text.push_str(&setup::image_block(IMAGE, &target));
    text
}

/// The gallery holds a hand-made 1.0.0, latest everywhere; builds make 1.0.1, …
pub async fn world(target_extra: &str) -> World {
    let scenario = setup::scenario("", 0, 0) + &setup::gallery_scenario(&["1.0.0"]);
    let world = World::builder().scenario(scenario).start().await;
    world.write_config(&catalog(&world, target_extra));
    world
}

/// A process of its own on the catalog and a database of its own.
pub async fn consumer(world: &World) -> App {
    let catalog = catalog::load(&world.config).unwrap();
    App::open(
        catalog,
        &world.dir.path().join("consumer.db"),
        world.shared_clock(),
        Tuning::default(),
    )
    .await
    .unwrap()
}

/// The definition's versions, listed through a client of their own.
pub async fn versions(world: &World) -> Vec<GalleryImageVersion> {
    let app = consumer(world).await;
    let definition = GalleryImageRef::from_id(DEFINITION).unwrap();
    let versions = gallery::list_versions(&app.arm, &definition).await.unwrap();
    app.store.close().await;
    versions
}

/// What a VM or scale set asking for `latest` gets in each of [`REGIONS`]:
/// Azure's own rule applied to the versions a GET lists.
pub async fn latest(world: &World) -> [Option<String>; 2] {
    let versions = versions(world).await;
    REGIONS
        .map(|region| gallery::newest_for_latest(&versions, Some(region)).map(|v| v.name.clone()))
}

pub fn some(version: &str) -> Option<String> {
    Some(version.to_owned())
}
