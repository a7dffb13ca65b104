//! The OpenAPI document: the committed `docs/api/openapi.json` is the generated one, it names
//! exactly the routes the router serves and the template deploys, and secrets appear only where
//! they are shown once.

use std::collections::BTreeSet;
use std::path::PathBuf;

use hookpost_api::router::{Route, route};
use hookpost_operations::page::{DEFAULT_LIMIT, MAX_LIMIT};
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Every `(METHOD, /path/{template})` operation of the document.
fn documented() -> BTreeSet<(String, String)> {
    let doc = hookpost_api::openapi();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().cloned().unwrap_or_default();
            METHODS
                .iter()
                .filter(move |m| item.contains_key(&m.to_ascii_lowercase()))
                .map(move |m| ((*m).to_owned(), path.clone()))
        })
        .collect()
}

/// A concrete path for a template: each `{param}` becomes an id.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "id_1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// One of every route. Adding a variant breaks the match below until it is listed here too.
fn every_route() -> Vec<Route> {
    let id = || "id_1".to_owned();
    let all = vec![
        Route::ListSources,
        Route::CreateSource,
        Route::GetSource(id()),
        Route::UpdateSource(id()),
        Route::DeleteSource(id()),
        Route::Publish(id()),
        Route::RotateSourceSecret(id()),
        Route::ListSubscriptions,
        Route::CreateSubscription,
        Route::GetSubscription(id()),
        Route::UpdateSubscription(id()),
        Route::DeleteSubscription(id()),
        Route::EnableSubscription(id()),
        Route::DisableSubscription(id()),
        Route::RotateSubscriptionSecret(id()),
        Route::ListEvents,
        Route::GetEvent(id()),
        Route::EventDeliveries(id()),
        Route::ReplayEvent(id()),
        Route::Recover,
        Route::ListDeadLetters,
        Route::GetDeadLetter(id()),
        Route::Redrive,
        Route::PurgeDeadLetters,
        Route::OpenApi,
    ];
    for r in &all {
        match r {
            Route::ListSources
            | Route::CreateSource
            | Route::GetSource(_)
            | Route::UpdateSource(_)
            | Route::DeleteSource(_)
            | Route::Publish(_)
            | Route::RotateSourceSecret(_)
            | Route::ListSubscriptions
            | Route::CreateSubscription
            | Route::GetSubscription(_)
            | Route::UpdateSubscription(_)
            | Route::DeleteSubscription(_)
            | Route::EnableSubscription(_)
            | Route::DisableSubscription(_)
            | Route::RotateSubscriptionSecret(_)
            | Route::ListEvents
            | Route::GetEvent(_)
            | Route::EventDeliveries(_)
            | Route::ReplayEvent(_)
            | Route::Recover
            | Route::ListDeadLetters
            | Route::GetDeadLetter(_)
            | Route::Redrive
            | Route::PurgeDeadLetters
            | Route::OpenApi => {}
        }
    }
    all
}

#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let path = repo_file("docs/api/openapi.json");
    let generated = hookpost_api::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/api/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/api/openapi.json is not the document the handlers generate; regenerate it with \
         `make openapi` (UPDATE_OPENAPI=1 cargo test -p hookpost-api --test openapi) and commit it"
    );
}

#[test]
fn every_documented_operation_is_a_route_with_that_template() {
    let documented = documented();
    assert!(!documented.is_empty());
    for (method, template) in &documented {
        let reached = route(method, &concrete(template))
            .unwrap_or_else(|e| panic!("{method} {template} is documented but not routed: {e:?}"));
        assert_eq!(
            reached.template(),
            (method.as_str(), template.as_str()),
            "{method} {template} reaches {reached:?}"
        );
    }
}

#[test]
fn every_route_and_every_method_a_documented_path_takes_is_documented() {
    let documented = documented();
    for r in every_route() {
        let (method, template) = r.template();
        assert!(
            documented.contains(&(method.to_owned(), template.to_owned())),
            "{method} {template} ({r:?}) is routed but not in the OpenAPI document: \
             add #[utoipa::path] to its handler and the handler to ApiDoc's paths(...)"
        );
    }
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for template in paths {
        for method in METHODS {
            if route(method, &concrete(template)).is_ok() {
                assert!(
                    documented.contains(&(method.to_owned(), template.clone())),
                    "{method} {template} is routed but not documented"
                );
            }
        }
    }
}

#[test]
fn the_template_deploys_exactly_the_documented_routes() {
    let template = std::fs::read_to_string(repo_file("template.yaml")).expect("template.yaml");
    let mut deployed = BTreeSet::new();
    let mut method = None;
    for line in template.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let Some(path) = line.strip_prefix("Path: /v1") {
            let m = method.take().expect("a Method: before each Path:");
            deployed.insert((m, format!("/v1{path}")));
        }
    }
    assert_eq!(deployed, documented());
}

#[test]
fn the_documented_page_limits_are_the_cores() {
    let doc = hookpost_api::openapi();
    let params = doc["paths"]["/v1/sources"]["get"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let limit = params
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("a limit parameter");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], MAX_LIMIT);
    assert_eq!(limit["schema"]["default"], DEFAULT_LIMIT);
}

/// Every schema with a `secret` property, and whether it is write-only there.
fn schemas_with_secrets(value: &Value, name: &str, found: &mut BTreeSet<(String, bool)>) {
    match value {
        Value::Object(map) => {
            if let Some(secret) = map.get("properties").and_then(|p| p.get("secret")) {
                found.insert((name.to_owned(), secret["writeOnly"] == true));
            }
            for child in map.values() {
                schemas_with_secrets(child, name, found);
            }
        }
        Value::Array(items) => {
            for child in items {
                schemas_with_secrets(child, name, found);
            }
        }
        _ => {}
    }
}

#[test]
fn secrets_are_answered_only_by_creates_and_rotations() {
    let doc = hookpost_api::openapi();
    let mut found = BTreeSet::new();
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default()
    {
        schemas_with_secrets(&schema, &name, &mut found);
    }
    let expected: BTreeSet<(String, bool)> = [
        ("CreateSource", true),
        ("RotateSecret", true),
        ("CreatedSource", false),
        ("CreatedSubscription", false),
        ("Rotation", false),
    ]
    .into_iter()
    .map(|(n, w)| (n.to_owned(), w))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn an_optional_body_is_documented_as_the_object_it_must_be_when_sent() {
    let doc = hookpost_api::openapi();
    let body = &doc["paths"]["/v1/sources/{source_id}/rotate-secret"]["post"]["requestBody"];
    assert_eq!(
        body["content"]["application/json"]["schema"],
        serde_json::json!({ "$ref": "#/components/schemas/RotateSecret" })
    );
    assert_ne!(body["required"], true);
    let create = &doc["paths"]["/v1/sources"]["post"]["requestBody"];
    assert_eq!(create["required"], true);
}

#[test]
fn every_operation_is_signed_with_sigv4() {
    let doc = hookpost_api::openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["security"], serde_json::json!([{ "sigv4": [] }]));
    let scheme = &doc["components"]["securitySchemes"]["sigv4"];
    assert_eq!(
        (&scheme["type"], &scheme["in"], &scheme["name"]),
        (
            &Value::from("apiKey"),
            &Value::from("header"),
            &Value::from("Authorization")
        )
    );
    assert_eq!(scheme["x-amazon-apigateway-authtype"], "awsSigv4");
}
