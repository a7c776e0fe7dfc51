//! The service-wide settings: limits, the metrics listener, schedules, retention and
//! `[[notify]]` sinks, with their defaults and ranges.

use super::*;

#[test]
fn service_limits_default_and_are_range_checked() {
    let catalog = parse(&image_with("")).unwrap();
    assert_eq!(catalog.service.max_concurrent_builds, 4);
    assert_eq!(catalog.service.disable_after_failures, 3);

    let source = format!(
        "{}[service]\nmax_concurrent_builds = 10\ndisable_after_failures = 0\n{IMAGE}",
        azure()
    );
    let catalog = parse(&source).unwrap();
    assert_eq!(catalog.service.max_concurrent_builds, 10);
    assert_eq!(catalog.service.disable_after_failures, 0);

    let source = format!(
        "{}[service]\nmax_concurrent_builds = 0\ndisable_after_failures = -1\n{IMAGE}",
        azure()
    );
    let found = problems(&source);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (7, 25));
    assert!(found[0].2.contains("`max_concurrent_builds` out of range"));
    assert_eq!((found[1].0, found[1].1), (8, 26));
    assert!(found[1].2.contains("`disable_after_failures` out of range"));

    let source = format!("{}[service]\nmax_builds = 2\n{IMAGE}", azure());
    single_problem(&source, 7, 1, "unknown field `max_builds`");
}

#[test]
fn metrics_listen_is_off_by_default_and_loopback_unless_remote_is_allowed() {
    let catalog = parse(&image_with("")).unwrap();
    assert_eq!(catalog.service.metrics_listen, None, "off when absent");

    let source = format!(
        "{}[service]\nmetrics_listen = \"127.0.0.1:9464\"\n{IMAGE}",
        azure()
    );
    let catalog = parse(&source).unwrap();
    assert_eq!(
        catalog.service.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );

    let source = format!(
        "{}[service]\nmetrics_listen = \"0.0.0.0:9464\"\n{IMAGE}",
        azure()
    );
    let hint = single_problem(&source, 7, 18, "`metrics_listen` is not a loopback address");
    assert!(hint.contains("metrics_allow_remote = true"), "{hint}");
    assert!(hint.contains("reverse proxy"), "{hint}");

    let source = format!(
        "{}[service]\nmetrics_listen = \"0.0.0.0:9464\"\nmetrics_allow_remote = true\n{IMAGE}",
        azure()
    );
    let catalog = parse(&source).unwrap();
    assert_eq!(
        catalog.service.metrics_listen,
        Some("0.0.0.0:9464".parse().unwrap())
    );

    let source = format!(
        "{}[service]\nmetrics_listen = \"localhost\"\n{IMAGE}",
        azure()
    );
    let hint = single_problem(
        &source,
        7,
        18,
        "`metrics_listen` is not an address and port",
    );
    assert!(hint.contains("127.0.0.1:9464"), "{hint}");
}

#[test]
fn bad_cron_expression_and_timezone() {
    let source = format!(
        "{}[schedule]\ncron = \"61 * * * *\"\ntimezone = \"Mars/Olympus\"\n{IMAGE}",
        azure()
    );
    let found = problems(&source);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (7, 8));
    assert!(found[0].2.contains("bad cron expression"), "{found:?}");
    assert_eq!((found[1].0, found[1].1), (8, 12));
    assert!(
        found[1].2.contains("unknown timezone `Mars/Olympus`"),
        "{found:?}"
    );

    // Croner's extensions are accepted, with and without seconds; per-image schedules too.
    for cron in ["0 6 * * TUE#2", "0 0 6 L * *", "30 2 * * 1-5"] {
        let source = format!("{}[schedule]\ncron = \"{cron}\"\n{IMAGE}", azure());
        parse(&source).unwrap_or_else(|e| panic!("{cron}: {e}"));
    }
    let source = format!("{}{IMAGE}[images.schedule]\ncron = \"0 6 * *\"\n", azure());
    single_problem(&source, 16, 8, "bad cron expression");
}

#[test]
fn failed_template_retention_is_a_duration_and_excludes_keeping_for_ever() {
    use image_refresh::catalog::Retention;
    let with = |extra: &str| format!("{}{extra}{IMAGE}", azure());
    let retention = |extra: &str| parse(&with(extra)).unwrap().azure.failed_template_retention;
    assert_eq!(retention(""), Retention::FAILED_TEMPLATES);
    assert_eq!(
        retention("failed_template_retention = \"36h\"\n"),
        Retention::For(chrono::Duration::hours(36))
    );
    assert_eq!(
        retention("failed_template_retention = \"0s\"\n"),
        Retention::For(chrono::Duration::zero())
    );
    assert_eq!(
        retention("keep_failed_templates = true\n"),
        Retention::Forever
    );
    let hint = single_problem(
        &with("failed_template_retention = \"a week\"\n"),
        6,
        29,
        "`a week` is not a duration",
    );
    assert!(hint.contains("\"7d\""), "{hint}");
    single_problem(
        &with("keep_failed_templates = true\nfailed_template_retention = \"1d\"\n"),
        6,
        25,
        "`keep_failed_templates` and `failed_template_retention` both set",
    );
}

/// Security finding 4: a schedule that fires every few seconds is refused unless
/// asked for, and jitter is at most the time between checks.
#[test]
fn frequent_schedules_need_to_be_asked_for_and_jitter_fits_the_period() {
    let hint = single_problem(
        &format!("{}[schedule]\ncron = \"* * * * * *\"\n{IMAGE}", azure()),
        7,
        8,
        "`cron` fires every 1 s, more often than every 5 minutes",
    );
    assert!(hint.contains("allow_frequent = true"), "{hint}");
    parse(&format!(
        "{}[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true\n{IMAGE}",
        azure()
    ))
    .unwrap();
    single_problem(
        &format!(
            "{}[schedule]\ncron = \"0 * * * *\"\njitter = \"2h\"\n{IMAGE}",
            azure()
        ),
        8,
        10,
        "`jitter` is longer than the 3600 s between checks (or a day)",
    );
    parse(&format!(
        "{}[schedule]\ncron = \"0 * * * *\"\njitter = \"59m\"\n{IMAGE}",
        azure()
    ))
    .unwrap();
}

/// `[[notify]]`: the URL is a secret read from a file or a systemd credential;
/// kinds, events and images are checked like everything else.
#[test]
fn notify_sinks_are_checked() {
    let with = |notify: &str| format!("{}{IMAGE}{notify}", azure());
    let catalog = parse(&with(
        "[[notify]]\nkind = \"teams\"\ncredential = \"teams-url\"\nevents = [\"build_failed\", \"image_disabled\"]\nimages = [\"img\"]\ngive_up_after = \"2d\"\n",
    ))
    .unwrap();
    let sink = &catalog.notify[0];
    assert_eq!(sink.name, "teams-1");
    assert_eq!(sink.kind, image_refresh::catalog::SinkKind::Teams);
    assert_eq!(
        sink.give_up_after,
        std::time::Duration::from_secs(2 * 86_400)
    );
    use image_refresh::model::NoticeKind;
    assert!(sink.wants(NoticeKind::BuildFailed, Some("img")));
    assert!(!sink.wants(NoticeKind::BuildSucceeded, Some("img")));
    assert!(!sink.wants(NoticeKind::BuildFailed, Some("other")));
    assert!(sink.wants(NoticeKind::NotifyTest, None));

    // The URL itself has no key: an inline URL is an unknown field.
    single_problem(
        &with("[[notify]]\nkind = \"webhook\"\nurl = \"https://hooks.example/T0\"\n"),
        17,
        1,
        "unknown field `url`",
    );
    single_problem(
        &with("[[notify]]\nkind = \"pager\"\nurl_file = \"/etc/u\"\n"),
        16,
        8,
        "unknown notify kind `pager`",
    );
    single_problem(
        &with(
            "[[notify]]\nkind = \"slack\"\nurl_file = \"/etc/u\"\nevents = [\"build_exploded\"]\n",
        ),
        18,
        11,
        "unknown event `build_exploded`",
    );
    single_problem(
        &with("[[notify]]\nkind = \"slack\"\nurl_file = \"/etc/u\"\nimages = [\"nope\"]\n"),
        18,
        11,
        "unknown image `nope`",
    );
    single_problem(
        &with("[[notify]]\nkind = \"slack\"\n"),
        15,
        1,
        "missing `url_file` or `credential`",
    );
}
