//! Raw `[azure]`, `[azure.credential]`, `[store]`, `[schedule]` and `[defaults]` → typed settings.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::Duration;
use chrono_tz::Tz;

use super::azure::{AzureSettings, BuildNetwork, Cloud, Retention};
use super::error::Problems;
use super::model::{Defaults, ScheduleSettings, StoreSettings};
use super::raw::{Int, RawAzure, RawDefaults, RawSchedule, RawStore, S, Str};
use super::values::{
    IdKind, check_location, check_resource_id, check_url, is_guid, is_resource_group_name,
    parse_duration, parse_retention,
};
use crate::azure::{BlobEndpoint, CloudEndpoints, parse_secure_url};

/// A required string field, reported against its table when missing.
pub(super) fn required<'r>(
    p: &mut Problems,
    field: &'r Str,
    table: Range<usize>,
    what: &str,
    hint: &str,
) -> Option<&'r S<String>> {
    if field.is_none() {
        p.hint(table, format!("missing `{what}`"), hint);
    }
    field.as_ref()
}

pub(super) fn check_azure(p: &mut Problems, raw: &S<RawAzure>) -> Option<AzureSettings> {
    let azure = raw.get_ref();
    let table = raw.span();

    let subscription_id = required(
        p,
        &azure.subscription_id,
        table.clone(),
        "subscription_id",
        "the GUID of the subscription that holds the templates",
    )
    .and_then(|sub| guid(p, sub, "subscription_id"));
    let resource_group = required(
        p,
        &azure.resource_group,
        table.clone(),
        "resource_group",
        "the resource group that holds the image templates",
    )
    .and_then(|rg| {
        if is_resource_group_name(rg.get_ref()) {
            Some(rg.get_ref().clone())
        } else {
            p.hint(
                rg.span(),
                format!("invalid resource group name `{}`", rg.get_ref()),
                "give the group's name (not its resource ID): 1–90 letters, digits, `-_.()`",
            );
            None
        }
    });
    let location = required(
        p,
        &azure.location,
        table.clone(),
        "location",
        "the default Azure location, e.g. \"westeurope\"",
    )
    .and_then(|loc| location(p, loc));
    let identity = required(
        p,
        &azure.identity,
        table.clone(),
        "identity",
        "AIB builds run as a user-assigned managed identity; give its resource ID: /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>",
    )
    .and_then(|id| resource_id(p, id, IdKind::UserAssignedIdentity));
    let staging_resource_group = azure
        .staging_resource_group
        .as_ref()
        .map(|id| resource_id(p, id, IdKind::ResourceGroup).ok_or(()));

    let network = build_network(p, azure);

    let cloud = match &azure.cloud {
        None => Some(Cloud::Public),
        Some(name) => Cloud::from_name(name.get_ref()).or_else(|| {
            p.hint(
                name.span(),
                format!("unknown cloud `{}`", name.get_ref()),
                format!("use one of: {}", Cloud::NAMES.join(", ")),
            );
            None
        }),
    };
    let endpoints = cloud.and_then(|cloud| endpoints(p, azure, cloud, table.clone()));

    Some(AzureSettings {
        subscription_id: subscription_id?,
        resource_group: resource_group?,
        location: location?,
        identity: identity?,
        staging_resource_group: staging_resource_group.transpose().ok()?,
        network: network.ok()?,
        cloud: cloud?,
        endpoints: endpoints?,
        failed_template_retention: retention(p, azure)?,
    })
}

/// `failed_template_retention = "7d"`, or `keep_failed_templates = true` for ever.
fn retention(p: &mut Problems, azure: &RawAzure) -> Option<Retention> {
    let keep = azure.keep_failed_templates.as_ref();
    let given = azure.failed_template_retention.as_ref();
    match (keep, given) {
        (Some(keep), Some(_)) => {
            p.hint(
                keep.span(),
                "`keep_failed_templates` and `failed_template_retention` both set",
                "keep one: `keep_failed_templates = true` keeps failed templates (and their \
                 build VMs) until you delete them",
            );
            None
        }
        (Some(keep), None) if *keep.get_ref() => Some(Retention::Forever),
        (_, Some(text)) => Duration::from_std(duration(p, text)?)
            .ok()
            .map(Retention::For)
            .or_else(|| {
                p.error(text.span(), "`failed_template_retention` out of range");
                None
            }),
        (_, None) => Some(Retention::FAILED_TEMPLATES),
    }
}

/// `subnet_id` and `container_instance_subnet_id`: the second needs the first, in the
/// same virtual network, as AIB requires.
fn build_network(p: &mut Problems, azure: &RawAzure) -> Result<Option<BuildNetwork>, ()> {
    let subnet = azure
        .subnet_id
        .as_ref()
        .map(|id| resource_id(p, id, IdKind::Subnet).ok_or(()))
        .transpose();
    let instances = azure
        .container_instance_subnet_id
        .as_ref()
        .map(|id| {
            resource_id(p, id, IdKind::Subnet)
                .ok_or(())
                .map(|ok| (id, ok))
        })
        .transpose();
    let (subnet, instances) = (subnet?, instances?);
    let Some(subnet_id) = subnet else {
        if let Some((field, _)) = instances {
            p.hint(
                field.span(),
                "`container_instance_subnet_id` without `subnet_id`",
                "isolated builds need both: set `subnet_id` to the build VM's subnet in the same virtual network",
            );
            return Err(());
        }
        return Ok(None);
    };
    let vnet = |id: &str| {
        let lower = id.to_ascii_lowercase();
        lower[..lower.rfind("/subnets/").unwrap_or(lower.len())].to_owned()
    };
    if let Some((field, other)) = &instances
        && vnet(other) != vnet(&subnet_id)
    {
        p.hint(
            field.span(),
            "`container_instance_subnet_id` is in another virtual network than `subnet_id`",
            "AIB requires both subnets in one virtual network",
        );
        return Err(());
    }
    Ok(Some(BuildNetwork {
        subnet_id,
        container_instance_subnet_id: instances.map(|(_, id)| id),
    }))
}

fn endpoints(
    p: &mut Problems,
    azure: &RawAzure,
    cloud: Cloud,
    table: Range<usize>,
) -> Option<CloudEndpoints> {
    let known = cloud.known_endpoints();
    let mut pick = |field: &Str, name: &str, known: Option<String>| -> Option<String> {
        match field {
            // A named cloud's endpoints are fixed: one added line must not be able
            // to send its tokens or client secret to another host.
            Some(url) if known.is_some() => {
                p.hint(
                    url.span(),
                    format!("`{name}` overrides a named cloud's endpoint"),
                    "leave it out, or set cloud = \"custom\" with resource_manager_url, \
                     authority_host and resource_manager_audience",
                );
                None
            }
            Some(url) => match check_url(url.get_ref()) {
                Ok(()) => Some(url.get_ref().trim_end_matches('/').to_owned()),
                Err(hint) => {
                    p.hint(url.span(), format!("invalid `{name}`"), hint);
                    None
                }
            },
            None if known.is_some() => known,
            None => {
                p.hint(
                    table.clone(),
                    format!("`cloud = \"custom\"` needs `{name}`"),
                    "set resource_manager_url, authority_host and resource_manager_audience",
                );
                None
            }
        }
    };
    let resource_manager_url = pick(
        &azure.resource_manager_url,
        "resource_manager_url",
        known.as_ref().map(|k| k.resource_manager.to_string()),
    );
    let authority_host = pick(
        &azure.authority_host,
        "authority_host",
        known.as_ref().map(|k| k.authority_host.to_string()),
    );
    let resource_manager_audience = pick(
        &azure.resource_manager_audience,
        "resource_manager_audience",
        known.as_ref().map(|k| k.audience.clone()),
    );
    let blob = blob_endpoint(p, azure, known.as_ref());
    match CloudEndpoints::custom(
        &resource_manager_url?,
        &authority_host?,
        Some(&resource_manager_audience?),
    ) {
        Ok(mut endpoints) => {
            endpoints.blob = blob?;
            Some(endpoints)
        }
        Err(error) => {
            p.hint(
                table,
                "invalid endpoints",
                format!("{error}; set https URLs (plain http only for loopback)"),
            );
            None
        }
    }
}

/// A named cloud's blob service, or a custom cloud's optional `blob_url`.
fn blob_endpoint(
    p: &mut Problems,
    azure: &RawAzure,
    known: Option<&CloudEndpoints>,
) -> Option<Option<BlobEndpoint>> {
    match (&azure.blob_url, known) {
        (None, Some(known)) => Some(known.blob.clone()),
        (None, None) => Some(None),
        (Some(url), Some(_)) => {
            p.hint(
                url.span(),
                "`blob_url` overrides a named cloud's endpoint",
                "leave it out: a named cloud's blob service is known",
            );
            None
        }
        (Some(url), None) => match parse_secure_url(url.get_ref()) {
            Ok(base) => Some(Some(BlobEndpoint::PathStyle(base))),
            Err(error) => {
                p.hint(
                    url.span(),
                    "invalid `blob_url`",
                    format!("{error}; set the path-style base URL of the blob service"),
                );
                None
            }
        },
    }
}

pub(super) fn guid(p: &mut Problems, value: &S<String>, field: &str) -> Option<String> {
    if is_guid(value.get_ref()) {
        Some(value.get_ref().to_ascii_lowercase())
    } else {
        p.hide(value.span());
        p.hint(
            value.span(),
            format!("`{field}` is not a GUID"),
            "write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        );
        None
    }
}

pub(super) fn location(p: &mut Problems, value: &S<String>) -> Option<String> {
    match check_location(value.get_ref()) {
        Ok(()) => Some(value.get_ref().clone()),
        Err(hint) => {
            p.hint(
                value.span(),
                format!("invalid location `{}`", value.get_ref()),
                hint,
            );
            None
        }
    }
}

pub(super) fn resource_id(p: &mut Problems, value: &S<String>, kind: IdKind) -> Option<String> {
    match check_resource_id(value.get_ref(), kind) {
        Ok(()) => Some(value.get_ref().clone()),
        Err(hint) => {
            p.hint(
                value.span(),
                format!("malformed {} resource ID", kind.describe()),
                hint,
            );
            None
        }
    }
}

pub(super) fn check_store(p: &mut Problems, raw: Option<&RawStore>) -> StoreSettings {
    let keep_checks = match raw.and_then(|s| s.keep_checks_days.as_ref()) {
        None => Some(StoreSettings::KEEP_CHECKS),
        Some(days) => match *days.get_ref() {
            d @ 1..=36500 => Some(Duration::days(d)),
            _ => {
                p.hint(
                    days.span(),
                    "`keep_checks_days` out of range",
                    "use 1 to 36500 days; checks that builds refer to are always kept",
                );
                None
            }
        },
    };
    StoreSettings {
        database: raw
            .and_then(|s| s.database.as_ref())
            .map(|d| PathBuf::from(d.get_ref())),
        keep_checks: keep_checks.unwrap_or(StoreSettings::KEEP_CHECKS),
    }
}

pub(super) fn check_schedule(p: &mut Problems, raw: &S<RawSchedule>) -> Option<ScheduleSettings> {
    let schedule = raw.get_ref();
    let cron = required(p, &schedule.cron, raw.span(), "cron", "e.g. cron = \"0 6 * * TUE#2\" (06:00 on the second Tuesday)").and_then(|cron| {
        match croner::Cron::from_str(cron.get_ref()) {
            Ok(_) => Some(cron.get_ref().trim().to_owned()),
            Err(e) => {
                p.hint(cron.span(), format!("bad cron expression: {e}"), "use 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, e.g. \"0 6 * * TUE#2\"");
                None
            }
        }
    });
    let timezone = match &schedule.timezone {
        None => Some(Tz::UTC),
        Some(tz) => tz.get_ref().parse::<Tz>().ok().or_else(|| {
            p.hint(
                tz.span(),
                format!("unknown timezone `{}`", tz.get_ref()),
                "use an IANA name such as \"Europe/Prague\" or \"UTC\"",
            );
            None
        }),
    };
    let jitter = match &schedule.jitter {
        None => None,
        Some(jitter) => match parse_duration(jitter.get_ref()) {
            Ok(duration) => Some(duration),
            Err(hint) => {
                p.hint(jitter.span(), "bad `jitter`", hint);
                return None;
            }
        },
    };
    let settings = ScheduleSettings {
        cron: cron?,
        timezone: timezone?,
        jitter,
    };
    check_frequency(p, schedule, &settings).then_some(settings)
}

/// Base images change weekly at most: a check every few seconds only spends ARM's
/// budget and grows the history, so it takes `allow_frequent = true`. Jitter longer
/// than the period (or a day) spreads nothing.
fn check_frequency(p: &mut Problems, raw: &RawSchedule, settings: &ScheduleSettings) -> bool {
    const FREQUENT: chrono::Duration = chrono::Duration::minutes(5);
    let Ok(schedule) = crate::schedule::Schedule::new(settings, "") else {
        return true;
    };
    let Some(gap) = schedule.period() else {
        return true;
    };
    let allowed = raw.allow_frequent.as_ref().is_some_and(|a| *a.get_ref());
    let mut ok = true;
    if gap < FREQUENT
        && !allowed
        && let Some(cron) = &raw.cron
    {
        p.hint(
            cron.span(),
            format!(
                "`cron` fires every {} s, more often than every 5 minutes",
                gap.num_seconds()
            ),
            "base images change weekly at most: check daily or weekly, or set \
             allow_frequent = true in this table if you mean it",
        );
        ok = false;
    }
    let bound = schedule.jitter_bound();
    if let (Some(jitter), Some(raw_jitter)) = (settings.jitter, &raw.jitter)
        && jitter > bound
    {
        p.hint(
            raw_jitter.span(),
            format!(
                "`jitter` is longer than the {} s between checks (or a day)",
                bound.as_secs()
            ),
            format!("use at most {} s", bound.as_secs()),
        );
        ok = false;
    }
    ok
}

pub(super) fn check_defaults(p: &mut Problems, raw: Option<&RawDefaults>) -> Defaults {
    let mut defaults = Defaults::default();
    let Some(raw) = raw else {
        return defaults;
    };
    if let Some(size) = raw.vm_size.as_ref().and_then(|size| vm_size(p, size)) {
        defaults.vm_size = size;
    }
    if let Some(size) = disk_size(p, &raw.os_disk_size_gb) {
        defaults.os_disk_size_gb = size;
    }
    if let Some(timeout) = build_timeout(p, &raw.build_timeout_minutes) {
        defaults.build_timeout_minutes = timeout;
    }
    defaults.max_age = max_age(p, &raw.max_age_days);
    defaults.min_base_age = min_base_age(p, &raw.min_base_age);
    defaults.tags = tags(p, raw.tags.as_ref());
    defaults.build_window = raw
        .build_window
        .as_ref()
        .and_then(|w| super::check_window::check_build_window(p, w));
    defaults
}

pub(super) fn vm_size(p: &mut Problems, size: &S<String>) -> Option<String> {
    let value = size.get_ref();
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(value.clone())
    } else {
        p.hint(
            size.span(),
            format!("invalid VM size `{value}`"),
            "use an ARM size name such as \"Standard_D2s_v3\"",
        );
        None
    }
}

pub(super) fn disk_size(p: &mut Problems, size: &Int) -> Option<u32> {
    let size = size.as_ref()?;
    match u32::try_from(*size.get_ref()) {
        Ok(gb) if gb <= 4095 => Some(gb),
        _ => {
            p.hint(
                size.span(),
                "`os_disk_size_gb` out of range",
                "use 0 (keep the source's size) up to 4095",
            );
            None
        }
    }
}

pub(super) fn build_timeout(p: &mut Problems, timeout: &Int) -> Option<u32> {
    let timeout = timeout.as_ref()?;
    match u32::try_from(*timeout.get_ref()) {
        Ok(minutes) if minutes <= 960 => Some(minutes),
        _ => {
            p.hint(
                timeout.span(),
                "`build_timeout_minutes` out of range",
                "AIB accepts 0 to 960 minutes (0 means its default of 240)",
            );
            None
        }
    }
}

/// `min_base_age = "3d"`: how long a new base version soaks before it is built.
pub(super) fn min_base_age(p: &mut Problems, text: &Str) -> Option<Duration> {
    let text = text.as_ref()?;
    let age = duration(p, text)?;
    if age > std::time::Duration::from_secs(90 * 86_400) {
        p.hint(
            text.span(),
            "`min_base_age` out of range",
            "at most \"90d\": a base image that old has newer security fixes waiting",
        );
        return None;
    }
    Duration::from_std(age).ok()
}

/// A duration in the catalog's units ("90s", "30m", "2h", "7d"), or the problem at its span.
pub(super) fn duration(p: &mut Problems, text: &S<String>) -> Option<std::time::Duration> {
    parse_retention(text.get_ref())
        .map_err(|hint| {
            p.hint(
                text.span(),
                format!("`{}` is not a duration", text.get_ref()),
                hint,
            );
        })
        .ok()
}

pub(super) fn max_age(p: &mut Problems, days: &Int) -> Option<Duration> {
    let days = days.as_ref()?;
    match *days.get_ref() {
        d @ 1..=3650 => Some(Duration::days(d)),
        _ => {
            p.hint(
                days.span(),
                "`max_age_days` out of range",
                "use 1 to 3650 days, or leave it out to rebuild only when the source changes",
            );
            None
        }
    }
}

/// Tags as ARM accepts them: keys up to 512 characters without `<>%&\?/`, values up to 256.
/// Problems are reported at the value, the only part toml gives a position for.
pub(super) fn tags(
    p: &mut Problems,
    raw: Option<&BTreeMap<String, S<String>>>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for (key, value) in raw.into_iter().flatten() {
        let key_ok = !key.is_empty()
            && key.chars().count() <= 512
            && !key.contains(['<', '>', '%', '&', '\\', '?', '/']);
        if !key_ok {
            p.hint(
                value.span(),
                format!("invalid tag name `{key}`"),
                "tag names are 1–512 characters without < > % & \\ ? /",
            );
        } else if value.get_ref().chars().count() > 256 {
            p.hint(
                value.span(),
                format!("value of tag `{key}` is too long"),
                "tag values are at most 256 characters",
            );
        } else {
            tags.insert(key.clone(), value.get_ref().clone());
        }
    }
    tags
}
