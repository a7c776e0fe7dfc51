#!/usr/bin/env python3
"""The simulator driven by Microsoft's official Azure SDK for Python.

Starts `image-refresh simulate` on the scenario next to this file and makes the
high-level calls a team's own tooling makes: marketplace list and get, an image
template built from the SDK's own models, its run and sub-states, run outputs,
cancel, delete, gallery versions (paged), managed images, a schema-invalid
body, a changed body (409), a provisioning failure and a 429 the SDK retries.
The SDK's default api-versions are used throughout. Any difference between
what the SDK expects and what the simulator answers fails a check here; it is
fixed in the simulator, never here.

    python conformance.py path/to/image-refresh
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import ManagedIdentityCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.imagebuilder import ImageBuilderClient
from azure.mgmt.imagebuilder import models as aib

HERE = Path(__file__).resolve().parent
SUBSCRIPTION = "00000000-0000-0000-0000-0000000c0f0a"
RG = "rg-conformance"
LOCATION = "westeurope"
PUBLISHER, OFFER, SKU = "Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"
IDENTITY = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
)
DEFINITION = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/"
    "Microsoft.Compute/galleries/gal/images/ubuntu"
)
FAILURES = []


class PlainHttpLoopback(SansIOHTTPPolicy):
    """azure-core sends bearer tokens over https only unless a request says
    `enforce_https=False`; the simulator listens on plain-http loopback."""

    def on_request(self, request):
        request.context.options["enforce_https"] = False


def check(what, condition, detail=""):
    mark = "ok  " if condition else "FAIL"
    print(f"{mark} {what}" + (f": {detail}" if detail and not condition else ""))
    if not condition:
        FAILURES.append(what)


def start_simulator(binary):
    """`image-refresh simulate` on a free port; returns the process, its URL and env."""
    process = subprocess.Popen(
        [binary, "simulate", "--listen", "127.0.0.1:0", "--scenario", str(HERE / "scenario.toml")],
        stdout=subprocess.PIPE,
        text=True,
    )
    url, env = None, {}
    for line in process.stdout:
        if line.startswith("# Azure simulator on "):
            url = line.split(" on ", 1)[1].split(";", 1)[0].strip()
        elif line.startswith("IDENTITY_"):
            name, value = line.strip().split("=", 1)
            env[name] = value
        if url and len(env) == 2:
            return process, url, env
    raise SystemExit(f"the simulator did not start (exit {process.wait()})")


def template(source, customize, runs_to=None):
    """An image template from the SDK's own models: a gallery and a managed image target."""
    tags = {"made-by": "conformance"}
    distribute = [
        aib.ImageTemplateSharedImageDistributor(
            run_output_name="gallery",
            gallery_image_id=DEFINITION,
            target_regions=[aib.TargetRegion(name=LOCATION, replica_count=1)],
            artifact_tags=tags,
        ),
        aib.ImageTemplateManagedImageDistributor(
            run_output_name="managed",
            image_id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Compute/images/{runs_to or 'golden'}",
            location=LOCATION,
            artifact_tags=tags,
        ),
    ]
    return aib.ImageTemplate(
        location=LOCATION,
        identity=aib.ImageTemplateIdentity(
            type="UserAssigned", user_assigned_identities={IDENTITY: aib.UserAssignedIdentity()}
        ),
        properties=aib.ImageTemplateProperties(
            source=source,
            customize=customize,
            distribute=distribute,
            vm_profile=aib.ImageTemplateVmProfile(vm_size="Standard_D2s_v3"),
        ),
    )


def marketplace_source(version="latest"):
    return aib.ImageTemplatePlatformImageSource(
        publisher=PUBLISHER, offer=OFFER, sku=SKU, version=version
    )


def shell(*lines):
    return [aib.ImageTemplateShellCustomizer(name="patch", inline=list(lines))]


def error_code(error):
    return getattr(getattr(error, "error", None), "code", None)


def marketplace(compute):
    names = [v.name for v in compute.virtual_machine_images.list(LOCATION, PUBLISHER, OFFER, SKU)]
    check("marketplace list names every version", sorted(names) == sorted(
        ["22.04.202409110", "22.04.202410020", "22.04.202411050"]), names)
    image = compute.virtual_machine_images.get(LOCATION, PUBLISHER, OFFER, SKU, "22.04.202411050")
    check("marketplace get has its hyperVGeneration", image.properties.hyper_v_generation == "V2")
    check(
        "marketplace get has its OS",
        image.properties.os_disk_image.operating_system == "Linux",
    )


def build_and_outputs(builder, compute):
    templates = builder.virtual_machine_image_templates
    created = templates.begin_create_or_update(
        RG, "conformance", template(marketplace_source(), shell("sudo apt-get -y upgrade"))
    ).result()
    check("template create succeeds", created.properties.provisioning_state == "Succeeded")
    check("template has systemData", created.system_data is not None and created.system_data.created_at is not None)

    poller = templates.begin_run(RG, "conformance")
    seen = set()
    while not poller.done():
        status = templates.get(RG, "conformance").properties.last_run_status
        if status and status.run_sub_state:
            seen.add(status.run_sub_state)
        time.sleep(0.3)
    poller.result()
    final = templates.get(RG, "conformance").properties
    check("the run succeeds", final.last_run_status.run_state == "Succeeded", final.last_run_status)
    check("the run shows its sub-states", {"Building", "Customizing", "Distributing"} <= seen, seen)
    check("a latest source shows its exact version", final.source.exact_version == "22.04.202411050")

    outputs = list(templates.list_run_outputs(RG, "conformance"))
    by_name = {o.name: o for o in outputs}
    check("run outputs name both targets", set(by_name) == {"gallery", "managed"}, list(by_name))
    one = templates.get_run_output(RG, "conformance", "gallery")
    version_id = one.properties.artifact_id
    check("a run output has its artifact id", version_id and "/versions/" in version_id, version_id)

    version = compute.gallery_image_versions.get(RG, "gal", "ubuntu", version_id.rsplit("/", 1)[1])
    check("the gallery version carries the artifact tags", version.tags == {"made-by": "conformance"}, version.tags)
    check(
        "the gallery version names its source",
        bool(version.properties.storage_profile.source.id),
    )
    check("the gallery version has systemData", version.system_data is not None)
    image = compute.images.get(RG, "golden")
    check("the managed image carries the artifact tags", image.tags == {"made-by": "conformance"}, image.tags)

    pages = list(compute.gallery_image_versions.list_by_gallery_image(RG, "gal", "ubuntu").by_page())
    items = [v.name for page in pages for v in page]
    check("gallery versions come in pages of the scenario's size", len(pages) == 3, len(pages))
    check("paging yields every version once", sorted(items) == sorted(set(items)) and len(items) == 6, items)

    templates.begin_delete(RG, "conformance").result()
    try:
        templates.get(RG, "conformance")
        check("a deleted template is gone", False)
    except ResourceNotFoundError:
        check("a deleted template is gone", True)


def refusals(builder):
    templates = builder.virtual_machine_image_templates
    body = template(marketplace_source(), shell("true"))
    templates.begin_create_or_update(RG, "immutable", body).result()
    try:
        templates.begin_create_or_update(RG, "immutable", template(marketplace_source(), shell("false")))
        check("a changed body is refused with 409", False)
    except HttpResponseError as error:
        check("a changed body is refused with 409", error.status_code == 409, error.status_code)

    invalid = {"location": LOCATION, "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
               "properties": {"source": {"type": "PlatformImage"}, "distribute": [], "vmProfile": {"vmSize": 4}}}
    try:
        templates.begin_create_or_update(RG, "invalid", invalid)
        check("a schema-invalid body is refused with 400", False)
    except HttpResponseError as error:
        check("a schema-invalid body is refused with 400", error.status_code == 400, error.status_code)
        check("its error code is ARM's", error_code(error) == "InvalidParameter", error_code(error))

    try:
        templates.begin_create_or_update(RG, "withdrawn", template(marketplace_source("22.04.209901010"), shell("true"))).result()
        check("a template pinned to a missing version fails to provision", False)
    except HttpResponseError:
        failed = templates.get(RG, "withdrawn").properties
        check("a template pinned to a missing version fails to provision", failed.provisioning_state == "Failed")
        code = failed.provisioning_error and failed.provisioning_error.provisioning_error_code
        check("its provisioningError has the spec's code", code == "BadPIRSource", code)


def cancel(builder):
    templates = builder.virtual_machine_image_templates
    templates.begin_create_or_update(RG, "slow-one", template(marketplace_source(), shell("sleep 60"), "slow")).result()
    templates.begin_run(RG, "slow-one")
    time.sleep(1.5)
    templates.begin_cancel(RG, "slow-one").result()
    status = templates.get(RG, "slow-one").properties.last_run_status
    check("a canceled run ends Canceled", status.run_state == "Canceled", status.run_state)


def throttled(compute):
    started = time.monotonic()
    image = compute.gallery_images.get(RG, "gal", "ubuntu")
    waited = time.monotonic() - started
    check("a throttled read is retried after Retry-After", image.name == "ubuntu")
    check("the retries waited for Retry-After", waited >= 1.0, f"{waited:.2f} s")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    process, url, env = start_simulator(sys.argv[1])
    try:
        os.environ.update(env)
        credential = ManagedIdentityCredential()
        options = {"base_url": url, "credential_scopes": ["https://management.azure.com/.default"],
                   "per_call_policies": [PlainHttpLoopback()]}
        builder = ImageBuilderClient(credential, SUBSCRIPTION, **options)
        compute = ComputeManagementClient(credential, SUBSCRIPTION, **options)
        for step in (throttled, marketplace):
            step(compute)
        build_and_outputs(builder, compute)
        refusals(builder)
        cancel(builder)
    finally:
        process.terminate()
        process.wait()
    print(f"{len(FAILURES)} deviation(s)" + (": " + "; ".join(FAILURES) if FAILURES else ""))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
