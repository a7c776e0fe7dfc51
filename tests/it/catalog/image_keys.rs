//! Image keys checked against each other and against where AIB builds: the source's
//! region, the build network, the staging group and the age limits.

use super::*;

/// `subnet_id` keeps the build VM in the company's network; `container_instance_subnet_id`
/// (isolated builds) needs it, in the same virtual network.
#[test]
fn build_network_subnets() {
    let subnet = |vnet: &str, name: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}"
        )
    };
    let with = |lines: &str| format!("{}{lines}{IMAGE}", azure());

    let both = with(&format!(
        "subnet_id = \"{}\"\ncontainer_instance_subnet_id = \"{}\"\n",
        subnet("vnet-build", "snet-vm"),
        subnet("VNET-Build", "snet-aci")
    ));
    let network = parse(&both).unwrap().azure.network.unwrap();
    assert_eq!(network.subnet_id, subnet("vnet-build", "snet-vm"));
    assert_eq!(
        network.container_instance_subnet_id,
        Some(subnet("VNET-Build", "snet-aci"))
    );
    assert_eq!(parse(&with("")).unwrap().azure.network, None);

    let hint = single_problem(
        &with(&format!(
            "subnet_id = \"{}\"\n",
            subnet("vnet-build", "snet-vm").replace("/subnets/snet-vm", "")
        )),
        6,
        13,
        "malformed subnet resource ID",
    );
    assert!(
        hint.contains("virtualNetworks/<vnet>/subnets/<subnet>"),
        "{hint}"
    );

    let hint = single_problem(
        &with(&format!(
            "container_instance_subnet_id = \"{}\"\n",
            subnet("vnet-build", "snet-aci")
        )),
        6,
        32,
        "`container_instance_subnet_id` without `subnet_id`",
    );
    assert!(hint.contains("set `subnet_id`"), "{hint}");

    single_problem(
        &with(&format!(
            "subnet_id = \"{}\"\ncontainer_instance_subnet_id = \"{}\"\n",
            subnet("vnet-build", "snet-vm"),
            subnet("vnet-other", "snet-aci")
        )),
        7,
        32,
        "in another virtual network",
    );
}

/// AIB takes a platform image from its template's region: an image is built where
/// its source is, and its gallery version must start in that region.
#[test]
fn an_image_is_built_where_its_source_is() {
    let image = |regions: &str| {
        format!(
            "{}[[images]]\nname = \"img\"\n[images.source]\ntype = \"marketplace\"\n\
             publisher = \"Canonical\"\noffer = \"0001-com-ubuntu-server-jammy\"\n\
             sku = \"22_04-lts-gen2\"\nlocation = \"northeurope\"\n[[images.distribute]]\n\
             type = \"gallery\"\nimage_id = \"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/g/images/img\"\n{regions}",
            azure()
        )
    };
    let catalog = parse(&image("")).unwrap();
    let built = catalog.image("img").unwrap();
    assert_eq!(built.location, "northeurope");
    assert!(matches!(
        built.distribute.as_slice(),
        [Distribute::Gallery(target)] if target.regions.iter().map(|r| r.name.as_str()).eq(["northeurope"])
    ));
    let body =
        image_refresh::build::template::render(image_refresh::build::template::TemplateInput {
            image: built,
            azure: &catalog.azure,
            source_version: "22.04.202411050",
            build_id: "00000000-0000-0000-0000-000000000001",
        });
    assert_eq!(body["location"], "northeurope");

    let hint = single_problem(
        &image("regions = [{ name = \"westeurope\" }]\n"),
        17,
        11,
        "`regions` does not include northeurope, where the image is built",
    );
    assert!(hint.contains("name = \"northeurope\""), "{hint}");
    parse(&image(
        "regions = [{ name = \"westeurope\" }, { name = \"northeurope\" }]\n",
    ))
    .unwrap();
}

/// AIB needs a configured staging group empty while it builds: one image each.
#[test]
fn a_staging_group_serves_one_image() {
    let staging =
        format!("staging_resource_group = \"/subscriptions/{SUB}/resourceGroups/rg-stage\"\n");
    let second = IMAGE.replace("name = \"img\"", "name = \"two\"");
    // From [azure], shared by both images: said at the [azure] key.
    let hint = single_problem(
        &format!("{}{staging}{IMAGE}{second}", azure()),
        6,
        26,
        "images `img` and `two` share the staging resource group",
    );
    assert!(hint.contains("its [[images]] table"), "{hint}");
    // One image's own: fine, and the template names it.
    let own = IMAGE.replace("name = \"img\"\n", &format!("name = \"img\"\n{staging}"));
    let catalog = parse(&format!("{}{own}{second}", azure())).unwrap();
    assert!(
        catalog
            .image("img")
            .unwrap()
            .staging_resource_group
            .as_deref()
            .unwrap()
            .ends_with("/rg-stage")
    );
    assert_eq!(catalog.image("two").unwrap().staging_resource_group, None);
    // Both their own, the same one: said at the second image's key.
    let both = second.replace("name = \"two\"\n", &format!("name = \"two\"\n{staging}"));
    single_problem(
        &format!("{}{own}{both}", azure()),
        18,
        26,
        "images `img` and `two` share the staging resource group",
    );
}

#[test]
fn min_base_age_is_a_duration_defaulted_per_image() {
    let own = IMAGE.replace(
        "name = \"img\"\n",
        "name = \"img\"\nmin_base_age = \"12h\"\n",
    );
    let two = IMAGE.replace("name = \"img\"", "name = \"two\"");
    let catalog = parse(&format!(
        "{}[defaults]\nmin_base_age = \"3d\"\n{own}{two}",
        azure()
    ))
    .unwrap();
    assert_eq!(
        catalog.image("img").unwrap().min_base_age,
        Some(chrono::Duration::hours(12))
    );
    assert_eq!(
        catalog.image("two").unwrap().min_base_age,
        Some(chrono::Duration::days(3))
    );
    assert_eq!(
        parse(&format!("{}{IMAGE}", azure())).unwrap().images[0].min_base_age,
        None
    );
    single_problem(
        &format!("{}[defaults]\nmin_base_age = \"1y\"\n{IMAGE}", azure()),
        7,
        16,
        "`1y` is not a duration",
    );
}

#[test]
fn end_of_life_after_is_a_duration_on_gallery_targets_only() {
    let gallery = IMAGE.replace(
        "type = \"vhd\"",
        "type = \"gallery\"\nimage_id = \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i\"\nend_of_life_after = \"soon\"",
    );
    let source = format!("{}{gallery}", azure());
    let line = source
        .lines()
        .position(|l| l.starts_with("end_of_life_after"))
        .unwrap()
        + 1;
    let hint = single_problem(&source, line, 21, "`end_of_life_after` cannot be `soon`");
    assert!(hint.contains("90d"), "{hint}");
    let vhd = IMAGE.replace(
        "type = \"vhd\"",
        "type = \"vhd\"\nend_of_life_after = \"90d\"",
    );
    let found = problems(&format!("{}{vhd}", azure()));
    assert!(
        found
            .iter()
            .any(|(_, _, m)| m.contains("end_of_life_after")),
        "{found:?}"
    );
}
