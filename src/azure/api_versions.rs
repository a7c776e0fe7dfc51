//! ARM api-versions per resource provider, from the specs in `shared/azure-api/`.

/// Microsoft.Compute: marketplace VM images and managed images (ComputeRP stable 2025-04-01).
pub const COMPUTE: &str = "2025-04-01";
/// Microsoft.Compute galleries (GalleryRP stable 2024-03-03).
pub const GALLERIES: &str = "2024-03-03";
/// Microsoft.VirtualMachineImages: Azure VM Image Builder (stable 2025-10-01).
pub const IMAGE_BUILDER: &str = "2025-10-01";
/// Microsoft.Resources: resource groups, their resources, providers (stable 2025-04-01).
pub const RESOURCES: &str = "2025-04-01";
/// Subscriptions and their locations (SubscriptionClient stable 2022-12-01).
pub const SUBSCRIPTIONS: &str = "2022-12-01";
/// Microsoft.ManagedIdentity: user-assigned identities (stable 2026-05-31).
pub const MANAGED_IDENTITY: &str = "2026-05-31";
