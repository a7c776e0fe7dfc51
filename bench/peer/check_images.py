#!/usr/bin/env python3
"""Nightly golden-image check, written the way teams write it with the Azure SDK for Python.

For every image in the catalog, one after another: list the marketplace versions of its base
sku, take the newest, and compare it with the version the image was last built from (a JSON
state file). Images whose base moved (or that were never built) are reported as stale.

This is the peer that `cargo bench --bench peer_compare` measures image-refresh against; see
bench/peer/README.md. It reads the same catalog TOML as image-refresh.

Sign-in is DefaultAzureCredential, as on any Azure-hosted runner (App Service, Functions,
Automation, a VM). Against the loopback simulator it resolves to the App Service managed
identity (IDENTITY_ENDPOINT/IDENTITY_HEADER), because ClientSecretCredential cannot be
pointed at a plain-http authority (see README.md).
"""

import argparse
import json
import sys
import time
import tomllib
from urllib.parse import urlparse

from azure.identity import DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient

PUBLIC_ARM = "https://management.azure.com"


def version_key(version):
    """Marketplace versions compare numerically per part: 1.10.0 is newer than 1.9.0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def newest_version(compute, location, source, call_options):
    versions = compute.virtual_machine_images.list(
        location, source["publisher"], source["offer"], source["sku"], **call_options
    )
    names = [v.name for v in versions]
    if not names:
        return None
    return max(names, key=version_key)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", help="image-refresh catalog TOML")
    parser.add_argument("--state", help="JSON file: image name -> version it was last built from")
    parser.add_argument("--report", help="write image name -> newest version here (JSON)")
    parser.add_argument(
        "--api-version",
        help="Compute api-version to call (default: the SDK's own)",
    )
    args = parser.parse_args()

    with open(args.catalog, "rb") as f:
        catalog = tomllib.load(f)
    azure = catalog["azure"]
    last_built = {}
    if args.state:
        with open(args.state) as f:
            last_built = json.load(f)

    started = time.perf_counter()
    arm_url = azure.get("resource_manager_url", PUBLIC_ARM).rstrip("/")
    audience = azure.get("resource_manager_audience", PUBLIC_ARM).rstrip("/")
    credential = DefaultAzureCredential()
    compute = ComputeManagementClient(
        credential,
        azure["subscription_id"],
        base_url=arm_url,
        credential_scopes=[audience + "/.default"],
    )

    call_options = {}
    if args.api_version:
        call_options["api_version"] = args.api_version
    if urlparse(arm_url).scheme == "http":
        # azure-core refuses bearer tokens over plain http unless told per request;
        # only the loopback simulator is served over http.
        call_options["enforce_https"] = False

    newest = {}
    stale = []
    failed = []
    for image in catalog.get("images", []):
        if not image.get("enabled", True):
            continue
        source = image["source"]
        if source.get("type") != "marketplace":
            continue
        location = source.get("location", azure["location"])
        version = source.get("version", "latest")
        if version == "latest":
            try:
                version = newest_version(compute, location, source, call_options)
            except Exception as error:  # a scheduled script logs and moves on
                print(f"{image['name']}: lookup failed: {error}", file=sys.stderr)
                failed.append(image["name"])
                continue
        newest[image["name"]] = version
        if version is not None and last_built.get(image["name"]) != version:
            stale.append(image["name"])
    seconds = time.perf_counter() - started

    for name in stale:
        print(f"stale: {name} (base {newest[name]}, last built {last_built.get(name, 'never')})")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(newest, f)
    summary = {
        "images": len(newest) + len(failed),
        "stale": len(stale),
        "failed": len(failed),
        "seconds": seconds,
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
