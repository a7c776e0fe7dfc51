//! Raw `[azure]` → typed Azure settings: subscription, groups, identity, build
//! network, retention and the cloud's endpoints.

use std::ops::Range;

use chrono::Duration;

use super::azure::{AzureSettings, BuildNetwork, Cloud, Retention};
use super::check_settings::{duration, guid, location, required, resource_id};
use super::error::Problems;
use super::raw::{RawAzure, S, Str};
use super::values::{IdKind, check_url, is_resource_group_name};
use crate::azure::{BlobEndpoint, CloudEndpoints, parse_secure_url};

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
