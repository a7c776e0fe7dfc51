//! ARM resource paths built from segments, so names are always percent-encoded.

use std::fmt;

use reqwest::Url;

use crate::azure::AzureError;

/// A path below the ARM endpoint, e.g. `/subscriptions/{id}/resourceGroups/{rg}/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath(Vec<String>);

impl ResourcePath {
    pub fn subscription(subscription_id: &str) -> Self {
        Self(vec!["subscriptions".to_owned(), subscription_id.to_owned()])
    }

    pub fn resource_group(subscription_id: &str, resource_group: &str) -> Self {
        Self::subscription(subscription_id)
            .join("resourceGroups")
            .join(resource_group)
    }

    /// A path of these segments, e.g. a resource id split at its slashes.
    pub fn from_segments<'a>(segments: impl IntoIterator<Item = &'a str>) -> Self {
        Self(segments.into_iter().map(str::to_owned).collect())
    }

    /// Appends one segment; `/` inside it is encoded, never treated as a separator.
    pub fn join(mut self, segment: impl Into<String>) -> Self {
        self.0.push(segment.into());
        self
    }

    /// The full URL below `base` with the `api-version` query parameter.
    pub fn to_url(&self, base: &Url, api_version: &str) -> Result<Url, AzureError> {
        let invalid = |reason: &str| AzureError::InvalidEndpoint {
            url: format!("{base}{}", self.to_string().trim_start_matches('/')),
            reason: reason.to_owned(),
        };
        if self.0.iter().any(String::is_empty) {
            return Err(invalid("a resource name in the path is empty"));
        }
        // A URL drops `.` and `..` segments (or climbs with them): the request
        // would reach another resource than the one named.
        if self
            .0
            .iter()
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(invalid("a resource name in the path is `.` or `..`"));
        }
        let mut url = base.clone();
        url.path_segments_mut()
            .map_err(|()| invalid("the ARM endpoint cannot carry a path"))?
            .pop_if_empty()
            .extend(&self.0);
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        Ok(url)
    }
}

impl fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.0 {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_encoded_url_below_base_path() {
        let base = Url::parse("https://arm.example/prefix/").unwrap();
        let path = ResourcePath::resource_group("sub-1", "rg 1")
            .join("providers")
            .join("a/b");
        assert_eq!(
            path.to_url(&base, "2025-10-01").unwrap().as_str(),
            "https://arm.example/prefix/subscriptions/sub-1/resourceGroups/rg%201/providers/a%2Fb?api-version=2025-10-01"
        );
        assert_eq!(
            path.to_string(),
            "/subscriptions/sub-1/resourceGroups/rg 1/providers/a/b"
        );
    }

    #[test]
    fn empty_segment_is_rejected() {
        let base = Url::parse("https://arm.example/").unwrap();
        let err = ResourcePath::resource_group("sub", "")
            .to_url(&base, "v")
            .unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn dot_segments_are_refused_not_dropped() {
        let base = Url::parse("https://management.azure.com/").unwrap();
        for name in [".", ".."] {
            let path = ResourcePath::resource_group("sub", "rg")
                .join("providers")
                .join(name)
                .join("x");
            let err = path.to_url(&base, "2025-01-01").unwrap_err();
            assert!(err.to_string().contains("`.` or `..`"), "{err}");
        }
    }
}
