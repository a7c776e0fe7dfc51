//! What a notice looks like on the wire for each sink kind: CloudEvents 1.0
//! for webhooks, an Adaptive Card for Teams, Block Kit for Slack.

use serde_json::{Value, json};

use crate::catalog::SinkKind;
use crate::model::NoticeKind;
use crate::store::Notice;

/// The CloudEvents `type` of a notice kind.
pub fn event_type(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::BuildSucceeded => "io.image-refresh.build.succeeded",
        NoticeKind::BuildFailed => "io.image-refresh.build.failed",
        NoticeKind::ImageDisabled => "io.image-refresh.image.disabled",
        NoticeKind::CheckFailed => "io.image-refresh.check.failed",
        NoticeKind::SourceNotFound => "io.image-refresh.source.not_found",
        NoticeKind::NewBaseVersion => "io.image-refresh.source.new_version",
        NoticeKind::NotifyTest => "io.image-refresh.notify.test",
        NoticeKind::VersionPromoted => "io.image-refresh.version.promoted",
        NoticeKind::PromotionFailed => "io.image-refresh.promotion.failed",
        NoticeKind::VersionRevoked => "io.image-refresh.version.revoked",
    }
}

/// One line a person reads first.
pub fn title(notice: &Notice) -> String {
    let image = notice.image.as_deref().unwrap_or("image-refresh");
    let text = |key: &str| notice.data[key].as_str().unwrap_or("?").to_owned();
    match notice.kind {
        NoticeKind::BuildSucceeded => format!("{image}: built from {}", text("source_version")),
        NoticeKind::BuildFailed => format!(
            "{image}: build failed ({})",
            notice.data["error_code"].as_str().unwrap_or("no code")
        ),
        NoticeKind::ImageDisabled => format!("{image}: no longer rebuilt automatically"),
        NoticeKind::CheckFailed => "image-refresh: the check could not finish".to_owned(),
        NoticeKind::SourceNotFound => format!("{image}: {}", text("missing")),
        NoticeKind::NewBaseVersion => format!("{image}: {}", text("reason")),
        NoticeKind::NotifyTest => "image-refresh: a test notification".to_owned(),
        NoticeKind::VersionPromoted => match notice.data["staged_in"].as_array() {
            Some(staged) if !staged.is_empty() => format!(
                "{image}: {} is latest in {}",
                text("version"),
                list(&notice.data["latest_in"])
            ),
            _ => format!("{image}: {} is latest everywhere", text("version")),
        },
        NoticeKind::PromotionFailed => format!(
            "{image}: {} could not be promoted to ring {}",
            text("version"),
            notice.data["ring"]
        ),
        NoticeKind::VersionRevoked => format!(
            "{image}: {} revoked by {}",
            text("version"),
            text("revoked_by")
        ),
    }
}

fn list(value: &Value) -> String {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The facts below the title: every text field of the event's data.
fn facts(notice: &Notice) -> Vec<(String, String)> {
    let mut facts = vec![("event".to_owned(), notice.kind.as_str().to_owned())];
    if let Some(object) = notice.data.as_object() {
        for (key, value) in object {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                Value::Array(items) if items.is_empty() => continue,
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("\n"),
                other => other.to_string(),
            };
            facts.push((key.clone(), text));
        }
    }
    facts
}

/// The body to POST, and its content type.
pub fn body(kind: SinkKind, notice: &Notice, source: &str) -> (Value, &'static str) {
    match kind {
        SinkKind::Webhook => (cloud_event(notice, source), "application/cloudevents+json"),
        SinkKind::Teams => (teams(notice), "application/json"),
        SinkKind::Slack => (slack(notice), "application/json"),
    }
}

fn cloud_event(notice: &Notice, source: &str) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": notice.id,
        "source": source,
        "type": event_type(notice.kind),
        "time": notice.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "datacontenttype": "application/json",
        "data": notice.data,
    });
    if let Some(image) = &notice.image {
        event["subject"] = json!(image);
    }
    event
}

fn teams(notice: &Notice) -> Value {
    let facts: Vec<Value> = facts(notice)
        .into_iter()
        .map(|(title, value)| json!({ "title": title, "value": value }))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    { "type": "TextBlock", "text": title(notice), "weight": "Bolder",
                      "size": "Medium", "wrap": true },
                    { "type": "FactSet", "facts": facts },
                ],
            },
        }],
    })
}

fn slack(notice: &Notice) -> Value {
    let fields: Vec<Value> = facts(notice)
        .into_iter()
        .take(10) // Slack takes at most ten fields in a section.
        .map(|(title, value)| json!({ "type": "mrkdwn", "text": format!("*{title}*\n{value}") }))
        .collect();
    let title = title(notice);
    json!({
        "text": title,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": title.chars().take(150).collect::<String>() } },
            { "type": "section", "fields": fields },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Notice {
        Notice {
            id: "0b4b2c1e-7f4e-4c1e-9a57-6f2b7b1d9c10".into(),
            created_at: "2026-12-01T09:00:00Z".parse().unwrap(),
            kind: NoticeKind::BuildFailed,
            image: Some("ubuntu-2204".into()),
            data: json!({
                "image": "ubuntu-2204", "build_id": "1a2b", "error_code": "BuildFailed",
                "error_message": "A customizer step failed.", "log_url": "https://x/customization.log",
                "artifact_ids": [],
            }),
            attempts: 0,
        }
    }

    #[test]
    fn a_webhook_gets_a_structured_cloud_event() {
        let (event, content_type) = body(SinkKind::Webhook, &failed(), "/image-refresh/host");
        assert_eq!(content_type, "application/cloudevents+json");
        for key in [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "subject",
            "data",
        ] {
            assert!(event.get(key).is_some(), "{key}");
        }
        assert_eq!(event["type"], "io.image-refresh.build.failed");
        assert_eq!(event["time"], "2026-12-01T09:00:00Z");
    }

    #[test]
    fn teams_gets_an_adaptive_card_and_slack_block_kit() {
        let (card, _) = body(SinkKind::Teams, &failed(), "s");
        let attachment = &card["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let content = &attachment["content"];
        assert_eq!(content["type"], "AdaptiveCard");
        assert_eq!(
            content["body"][0]["text"],
            "ubuntu-2204: build failed (BuildFailed)"
        );
        let facts = content["body"][1]["facts"].as_array().unwrap();
        assert!(facts.iter().any(|f| f["title"] == "log_url"));
        // Empty lists and nulls are left out.
        assert!(!facts.iter().any(|f| f["title"] == "artifact_ids"));

        let (message, _) = body(SinkKind::Slack, &failed(), "s");
        assert_eq!(message["text"], "ubuntu-2204: build failed (BuildFailed)");
        assert_eq!(message["blocks"][0]["type"], "header");
        let fields = message["blocks"][1]["fields"].as_array().unwrap();
        assert!(fields.len() <= 10);
        assert!(
            fields
                .iter()
                .any(|f| f["text"].as_str().unwrap().starts_with("*error_code*"))
        );
    }
}
