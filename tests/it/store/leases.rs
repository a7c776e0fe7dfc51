//! Image leases across two pools on one file, as two processes would have.

use chrono::Duration;
use image_refresh::store::{ClaimError, Store};
use tempfile::TempDir;

use super::{at, db_path, fresh, t0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_racing_claims_from_two_processes_exactly_one_wins() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let first = Store::open(&path).await.unwrap();
    let second = Store::open(&path).await.unwrap();
    let tasks: Vec<_> = (0..24)
        .map(|n| {
            let store = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let holder = format!("host-{}:{n}:uuid", n % 2);
                let result = store
                    .try_claim("web", &holder, t0(), Duration::minutes(10))
                    .await;
                (holder, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        let (holder, result) = task.await.unwrap();
        match result {
            Ok(lease) => {
                assert_eq!(lease.holder, holder);
                winners.push(lease);
            }
            Err(err) => losers.push(err),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner");
    let winner = &winners[0];
    assert_eq!(losers.len(), 23);
    for err in &losers {
        match err {
            ClaimError::HeldBy {
                holder, expires_at, ..
            } => {
                assert_eq!(holder, &winner.holder);
                assert_eq!(*expires_at, at("2026-11-25T09:10:00Z"));
            }
            other => panic!("unexpected error: {other:?}"),
        }
        assert!(err.to_string().contains(&winner.holder), "{err}");
    }
    assert_eq!(second.lease("web").await.unwrap().as_ref(), Some(winner));
}

#[tokio::test]
async fn an_expired_lease_can_be_taken_over() {
    let (_dir, store) = fresh().await;
    let ttl = Duration::minutes(10);
    store.try_claim("web", "a:1:x", t0(), ttl).await.unwrap();
    let before_expiry = t0() + Duration::minutes(9);
    assert!(matches!(
        store.try_claim("web", "b:2:y", before_expiry, ttl).await,
        Err(ClaimError::HeldBy { holder, .. }) if holder == "a:1:x"
    ));
    let at_expiry = t0() + ttl;
    let taken = store
        .try_claim("web", "b:2:y", at_expiry, ttl)
        .await
        .unwrap();
    assert_eq!(taken.holder, "b:2:y");
    assert_eq!(taken.acquired_at, at_expiry);
    assert_eq!(taken.expires_at, at_expiry + ttl);

    // The old holder learns it lost the lease.
    assert!(matches!(
        store.renew("web", "a:1:x", at_expiry, ttl).await,
        Err(ClaimError::HeldBy { holder, .. }) if holder == "b:2:y"
    ));
    assert!(!store.release("web", "a:1:x").await.unwrap());
    assert_eq!(store.lease("web").await.unwrap().unwrap().holder, "b:2:y");
}

#[tokio::test]
async fn the_holder_renews_and_releases() {
    let (_dir, store) = fresh().await;
    let ttl = Duration::minutes(10);
    let first = store.try_claim("web", "a:1:x", t0(), ttl).await.unwrap();
    let later = t0() + Duration::minutes(5);
    let reclaimed = store.try_claim("web", "a:1:x", later, ttl).await.unwrap();
    assert_eq!(
        reclaimed.acquired_at, first.acquired_at,
        "re-claim keeps acquired_at"
    );
    assert_eq!(reclaimed.expires_at, later + ttl);
    let renewed = store
        .renew("web", "a:1:x", later + Duration::minutes(5), ttl)
        .await
        .unwrap();
    assert_eq!(renewed.expires_at, later + Duration::minutes(15));

    // Another image is independent.
    store.try_claim("api", "b:2:y", t0(), ttl).await.unwrap();

    assert!(store.release("web", "a:1:x").await.unwrap());
    assert_eq!(store.lease("web").await.unwrap(), None);
    assert!(matches!(
        store.renew("web", "a:1:x", later, ttl).await,
        Err(ClaimError::NotHeld { image }) if image == "web"
    ));
    let next = store.try_claim("web", "b:2:y", later, ttl).await.unwrap();
    assert_eq!(next.holder, "b:2:y");
}
