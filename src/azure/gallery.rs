//! Azure Compute Gallery image versions: list, pick the one "latest" means, get, delete.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::AzureError;
use super::api_versions::GALLERIES;
use super::arm::{ArmClient, ResourcePath};
use super::lro::LroPoller;
use super::version::ImageVersion;

/// Names one gallery image definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GalleryImageRef {
    pub subscription_id: String,
    pub resource_group: String,
    pub gallery: String,
    pub image: String,
}

impl GalleryImageRef {
    /// Splits `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{g}/images/{i}`.
    /// The catalog validated the shape; ARM treats the segment names case-insensitively.
    pub fn from_id(id: &str) -> Option<GalleryImageRef> {
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        let named: BTreeMap<String, &str> = parts
            .chunks(2)
            .filter_map(|pair| match pair {
                [name, value] => Some((name.to_ascii_lowercase(), *value)),
                _ => None,
            })
            .collect();
        Some(GalleryImageRef {
            subscription_id: (*named.get("subscriptions")?).to_owned(),
            resource_group: (*named.get("resourcegroups")?).to_owned(),
            gallery: (*named.get("galleries")?).to_owned(),
            image: (*named.get("images")?).to_owned(),
        })
    }

    pub(super) fn versions_path(&self) -> ResourcePath {
        ResourcePath::resource_group(&self.subscription_id, &self.resource_group)
            .join("providers")
            .join("Microsoft.Compute")
            .join("galleries")
            .join(&self.gallery)
            .join("images")
            .join(&self.image)
            .join("versions")
    }
}

/// The parts of a gallery image version that decide whether it can serve as "latest".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryImageVersion {
    pub name: String,
    pub id: Option<String>,
    pub provisioning_state: Option<String>,
    /// `publishingProfile.excludeFromLatest`.
    pub exclude_from_latest: bool,
    /// Target regions whose own `excludeFromLatest` is true.
    pub excluded_regions: Vec<String>,
    pub published_date: Option<DateTime<Utc>>,
    /// `publishingProfile.endOfLifeDate`.
    pub end_of_life: Option<DateTime<Utc>>,
    /// `safetyProfile.blockDeletionBeforeEndOfLife`: Azure refuses to delete
    /// the version before its end of life.
    pub deletion_blocked_before_end_of_life: bool,
    /// AIB tags what it makes with the template's `artifactTags`.
    pub tags: BTreeMap<String, String>,
}

impl GalleryImageVersion {
    /// Until when Azure refuses to delete it, if it does now.
    pub fn deletion_blocked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.end_of_life
            .filter(|eol| self.deletion_blocked_before_end_of_life && *eol > now)
    }
}

#[derive(Debug, Deserialize)]
struct VersionBody {
    name: String,
    id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    properties: VersionProperties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionProperties {
    provisioning_state: Option<String>,
    #[serde(default)]
    publishing_profile: PublishingProfile,
    #[serde(default)]
    safety_profile: SafetyProfile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SafetyProfile {
    #[serde(default)]
    block_deletion_before_end_of_life: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishingProfile {
    #[serde(default)]
    exclude_from_latest: bool,
    published_date: Option<DateTime<Utc>>,
    end_of_life_date: Option<DateTime<Utc>>,
    #[serde(default)]
    target_regions: Vec<TargetRegion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetRegion {
    name: String,
    #[serde(default)]
    exclude_from_latest: bool,
}

fn parse_version(image: &GalleryImageRef, item: Value) -> Result<GalleryImageVersion, AzureError> {
    let body: VersionBody = serde_json::from_value(item).map_err(|e| {
        AzureError::unexpected_body(format!("versions of gallery image {}", image.image), e)
    })?;
    let profile = body.properties.publishing_profile;
    Ok(GalleryImageVersion {
        name: body.name,
        id: body.id,
        provisioning_state: body.properties.provisioning_state,
        exclude_from_latest: profile.exclude_from_latest,
        excluded_regions: profile
            .target_regions
            .into_iter()
            .filter(|r| r.exclude_from_latest)
            .map(|r| r.name)
            .collect(),
        published_date: profile.published_date,
        end_of_life: profile.end_of_life_date,
        deletion_blocked_before_end_of_life: body
            .properties
            .safety_profile
            .block_deletion_before_end_of_life,
        tags: body.tags.unwrap_or_default(),
    })
}

/// All versions of the image definition, across pages.
pub async fn list_versions(
    client: &ArmClient,
    image: &GalleryImageRef,
) -> Result<Vec<GalleryImageVersion>, AzureError> {
    client
        .list_all(&image.versions_path(), GALLERIES)
        .await?
        .into_iter()
        .map(|item| parse_version(image, item))
        .collect()
}

/// "westus", "West US" and "WESTUS" name the same region.
pub fn same_region(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// The version Azure means by "latest": the highest succeeded version that is not excluded
/// from latest, globally or (when `region` is given) in that region.
pub fn newest_for_latest<'a>(
    versions: &'a [GalleryImageVersion],
    region: Option<&str>,
) -> Option<&'a GalleryImageVersion> {
    versions
        .iter()
        .filter(|v| !v.exclude_from_latest)
        .filter(|v| region.is_none_or(|r| !v.excluded_regions.iter().any(|x| same_region(x, r))))
        .filter(|v| {
            v.provisioning_state
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("succeeded"))
        })
        .filter_map(|v| ImageVersion::parse(&v.name).ok().map(|parsed| (parsed, v)))
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, v)| v)
}

/// One version, or `None` if it does not exist.
pub async fn get_version(
    client: &ArmClient,
    image: &GalleryImageRef,
    version: &str,
) -> Result<Option<GalleryImageVersion>, AzureError> {
    match client
        .get(&image.versions_path().join(version), GALLERIES)
        .await
    {
        Ok(response) => parse_version(image, response.body).map(Some),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets the version's `endOfLifeDate` (informational in Azure, and the date a
/// safety profile's `blockDeletionBeforeEndOfLife` counts to).
pub async fn set_end_of_life(
    client: &ArmClient,
    image: &GalleryImageRef,
    version: &str,
    end_of_life: DateTime<Utc>,
    deadline: Instant,
) -> Result<(), AzureError> {
    let path = image.versions_path().join(version);
    let date = end_of_life.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = serde_json::json!({
        "properties": { "publishingProfile": { "endOfLifeDate": date }, "storageProfile": {} }
    });
    let response = client.patch(&path, GALLERIES, &body).await?;
    let operation = format!(
        "set the end of life of gallery image version {}/{version}",
        image.image
    );
    if let Some(poller) = LroPoller::from_response(client, operation, &response)? {
        poller.wait(deadline).await?;
    }
    Ok(())
}

/// Deletes a version and waits until it is gone. A missing version is not an error.
pub async fn delete_version(
    client: &ArmClient,
    image: &GalleryImageRef,
    version: &str,
    deadline: Instant,
) -> Result<(), AzureError> {
    let path = image.versions_path().join(version);
    let response = match client.delete(&path, GALLERIES).await {
        Ok(response) => response,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let operation = format!("delete gallery image version {}/{version}", image.image);
    if let Some(poller) = LroPoller::from_response(client, operation, &response)? {
        poller.wait(deadline).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(name: &str, excluded: bool, regions: &[&str], state: &str) -> GalleryImageVersion {
        GalleryImageVersion {
            name: name.to_owned(),
            id: None,
            provisioning_state: Some(state.to_owned()),
            exclude_from_latest: excluded,
            excluded_regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            published_date: None,
            end_of_life: None,
            deletion_blocked_before_end_of_life: false,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn latest_skips_excluded_failed_and_unparsable_versions() {
        let versions = vec![
            version("1.9.0", false, &[], "Succeeded"),
            version("1.10.0", false, &[], "Succeeded"),
            version("2.0.0", true, &[], "Succeeded"),
            version("1.11.0", false, &[], "Failed"),
            version("1.12.0", false, &["West US"], "Succeeded"),
            version("not.a.version", false, &[], "Succeeded"),
        ];
        assert_eq!(newest_for_latest(&versions, None).unwrap().name, "1.12.0");
        assert_eq!(
            newest_for_latest(&versions, Some("westus")).unwrap().name,
            "1.10.0"
        );
        assert_eq!(
            newest_for_latest(&versions, Some("eastus")).unwrap().name,
            "1.12.0"
        );
        assert!(newest_for_latest(&versions[2..4], None).is_none());
    }

    #[test]
    fn parses_the_spec_list_item() {
        // Trimmed from the 2024-03-03 GalleryImageVersion_ListByGalleryImage example.
        let item = serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0",
            "name": "1.0.0", "location": "West US",
            "properties": {
                "publishingProfile": {
                    "targetRegions": [
                        {"name": "West US", "regionalReplicaCount": 1, "excludeFromLatest": false},
                        {"name": "East US", "regionalReplicaCount": 2, "excludeFromLatest": true}
                    ],
                    "replicaCount": 1, "publishedDate": "2018-01-01T00:00:00Z",
                    "storageAccountType": "Standard_LRS"
                },
                "provisioningState": "Succeeded"
            }
        });
        let image = GalleryImageRef {
            subscription_id: "s".into(),
            resource_group: "myResourceGroup".into(),
            gallery: "g".into(),
            image: "i".into(),
        };
        let v = parse_version(&image, item).unwrap();
        assert_eq!(v.name, "1.0.0");
        assert!(!v.exclude_from_latest);
        assert_eq!(v.excluded_regions, vec!["East US".to_owned()]);
        assert_eq!(
            v.published_date.unwrap().to_rfc3339(),
            "2018-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn gallery_ids_split_case_insensitively() {
        let image = GalleryImageRef::from_id(
            "/subscriptions/0000/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/golden/images/ubuntu",
        )
        .unwrap();
        assert_eq!(image.resource_group, "rg-images");
        assert_eq!(image.gallery, "golden");
        assert_eq!(image.image, "ubuntu");
        let lower = GalleryImageRef::from_id(
            "/subscriptions/0000/resourcegroups/rg/providers/microsoft.compute/galleries/g/images/i",
        )
        .unwrap();
        assert_eq!(lower.resource_group, "rg");
        assert!(GalleryImageRef::from_id("/subscriptions/0000/resourceGroups/rg").is_none());
    }
}
