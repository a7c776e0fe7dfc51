//! The public-cloud regions the simulator can offer, with the metadata
//! `Subscriptions_ListLocations` (2022-12-01) returns for them.
//!
//! A scenario's `[settings] locations` picks from this table, so every region
//! it names answers with real display names, geography and pairing instead
//! of made-up values.

use serde_json::{Value, json};

/// One region as ARM describes it.
pub(crate) struct Region {
    pub name: &'static str,
    pub display: &'static str,
    /// `regionalDisplayName` prefix, e.g. "Europe" in "(Europe) West Europe".
    pub area: &'static str,
    pub geography: &'static str,
    pub longitude: &'static str,
    pub latitude: &'static str,
    pub physical: &'static str,
    pub paired: &'static str,
    /// Whether the region has availability zones (three, as ARM maps them).
    pub zones: bool,
}

/// A table row: (name, display name), (area, geography), (longitude, latitude), …
const fn region(
    (name, display): (&'static str, &'static str),
    (area, geography): (&'static str, &'static str),
    coordinates: (&'static str, &'static str),
    physical: &'static str,
    paired: &'static str,
    zones: bool,
) -> Region {
    Region {
        name,
        display,
        area,
        geography,
        longitude: coordinates.0,
        latitude: coordinates.1,
        physical,
        paired,
        zones,
    }
}

/// Azure public cloud regions (names, display names and pairs as ARM lists them).
/// One row per region reads better than rustfmt's one field per line.
#[rustfmt::skip]
pub(crate) const REGIONS: &[Region] = &[
    region(("eastus", "East US"), ("US", "United States"), ("-79.8164", "37.3719"), "Virginia", "westus", true),
    region(("eastus2", "East US 2"), ("US", "United States"), ("-78.3889", "36.6681"), "Virginia", "centralus", true),
    region(("westus", "West US"), ("US", "United States"), ("-122.417", "37.783"), "California", "eastus", false),
    region(("westus2", "West US 2"), ("US", "United States"), ("-119.852", "47.233"), "Washington", "westcentralus", true),
    region(("westus3", "West US 3"), ("US", "United States"), ("-112.074036", "33.448376"), "Phoenix", "eastus", true),
    region(("centralus", "Central US"), ("US", "United States"), ("-93.6208", "41.5908"), "Iowa", "eastus2", true),
    region(("northcentralus", "North Central US"), ("US", "United States"), ("-87.6278", "41.8819"), "Illinois", "southcentralus", false),
    region(("southcentralus", "South Central US"), ("US", "United States"), ("-98.5", "29.4167"), "Texas", "northcentralus", true),
    region(("westcentralus", "West Central US"), ("US", "United States"), ("-110.234", "40.890"), "Wyoming", "westus2", false),
    region(("canadacentral", "Canada Central"), ("Canada", "Canada"), ("-79.383", "43.653"), "Toronto", "canadaeast", true),
    region(("brazilsouth", "Brazil South"), ("South America", "Brazil"), ("-46.633", "-23.55"), "Sao Paulo State", "southcentralus", true),
    region(("northeurope", "North Europe"), ("Europe", "Europe"), ("-6.2597", "53.3478"), "Ireland", "westeurope", true),
    region(("westeurope", "West Europe"), ("Europe", "Europe"), ("4.9", "52.3667"), "Netherlands", "northeurope", true),
    region(("uksouth", "UK South"), ("Europe", "United Kingdom"), ("-0.799", "50.941"), "London", "ukwest", true),
    region(("ukwest", "UK West"), ("Europe", "United Kingdom"), ("-3.084", "53.427"), "Cardiff", "uksouth", false),
    region(("francecentral", "France Central"), ("Europe", "France"), ("2.3730", "46.3772"), "Paris", "francesouth", true),
    region(("germanywestcentral", "Germany West Central"), ("Europe", "Germany"), ("8.682127", "50.110924"), "Frankfurt", "germanynorth", true),
    region(("swedencentral", "Sweden Central"), ("Europe", "Sweden"), ("17.14127", "60.67488"), "Gävle", "swedensouth", true),
    region(("switzerlandnorth", "Switzerland North"), ("Europe", "Switzerland"), ("8.564572", "47.451542"), "Zurich", "switzerlandwest", true),
    region(("norwayeast", "Norway East"), ("Europe", "Norway"), ("10.752245", "59.913868"), "Norway", "norwaywest", true),
    region(("southeastasia", "Southeast Asia"), ("Asia Pacific", "Asia Pacific"), ("103.833", "1.283"), "Singapore", "eastasia", true),
    region(("eastasia", "East Asia"), ("Asia Pacific", "Asia Pacific"), ("114.188", "22.267"), "Hong Kong", "southeastasia", true),
    region(("australiaeast", "Australia East"), ("Asia Pacific", "Australia"), ("151.2094", "-33.86"), "New South Wales", "australiasoutheast", true),
    region(("japaneast", "Japan East"), ("Asia Pacific", "Japan"), ("139.77", "35.68"), "Tokyo, Saitama", "japanwest", true),
    region(("koreacentral", "Korea Central"), ("Asia Pacific", "Korea"), ("126.978", "37.5665"), "Seoul", "koreasouth", true),
    region(("centralindia", "Central India"), ("Asia Pacific", "India"), ("73.9197", "18.5822"), "Pune", "southindia", true),
    region(("uaenorth", "UAE North"), ("Middle East", "UAE"), ("55.316666", "25.266666"), "Dubai", "uaecentral", true),
    region(("southafricanorth", "South Africa North"), ("Africa", "South Africa"), ("28.218370", "-25.731340"), "Johannesburg", "southafricawest", true),
];

/// ARM's location names have no spaces and are lower case ("West Europe" → "westeurope").
pub(crate) fn normalize(location: &str) -> String {
    location.replace(' ', "").to_ascii_lowercase()
}

pub(crate) fn find(location: &str) -> Option<&'static Region> {
    let name = normalize(location);
    REGIONS.iter().find(|r| r.name == name)
}

/// Every region of the table: what a subscription without `[settings] locations` sees.
pub(crate) fn all_names() -> Vec<String> {
    REGIONS.iter().map(|r| r.name.to_owned()).collect()
}

/// One entry of `Subscriptions_ListLocations`, shaped as in GetLocations.json.
pub(crate) fn location_body(subscription: &str, r: &Region) -> Value {
    let base = format!("/subscriptions/{subscription}/locations");
    let mut body = json!({
        "id": format!("{base}/{}", r.name),
        "name": r.name,
        "type": "Region",
        "displayName": r.display,
        "regionalDisplayName": format!("({}) {}", r.area, r.display),
        "metadata": {
            "regionType": "Physical",
            "regionCategory": "Recommended",
            "geography": r.geography,
            "geographyGroup": r.area,
            "longitude": r.longitude,
            "latitude": r.latitude,
            "physicalLocation": r.physical,
            "pairedRegion": [{"name": r.paired, "id": format!("{base}/{}", r.paired)}]
        }
    });
    if r.zones {
        // ARM shuffles physical zones per subscription; a fixed mapping is one such shuffle.
        body["availabilityZoneMappings"] = json!(
            [("1", 1), ("2", 3), ("3", 2)]
                .iter()
                .map(|(logical, physical)| json!({
                    "logicalZone": logical,
                    "physicalZone": format!("{}-az{physical}", r.name)
                }))
                .collect::<Vec<_>>()
        );
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_normalized_and_the_required_ones_are_there() {
        let names = all_names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        for n in &names {
            assert_eq!(&normalize(n), n);
        }
        for required in [
            "westeurope",
            "northeurope",
            "eastus",
            "eastus2",
            "westus2",
            "westus3",
            "centralus",
            "uksouth",
            "swedencentral",
            "germanywestcentral",
            "francecentral",
            "southeastasia",
            "australiaeast",
            "japaneast",
        ] {
            assert!(find(required).is_some(), "{required}");
        }
        assert_eq!(find("West Europe").map(|r| r.name), Some("westeurope"));
    }
}
