//! Method and path to a route: every `/v1` route in one table. A path no route has is a 404; a
//! path some route has, asked with another method, is a 405 that lists the methods it takes.
//! Path segments are matched as sent (percent-encoded): an id with `%`, `/` or `.` in it cannot
//! name anything, so it never reaches a store.

/// One route of the API, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListSources,
    CreateSource,
    GetSource(String),
    UpdateSource(String),
    DeleteSource(String),
    Publish(String),
    RotateSourceSecret(String),
    ListSubscriptions,
    CreateSubscription,
    GetSubscription(String),
    UpdateSubscription(String),
    DeleteSubscription(String),
    EnableSubscription(String),
    DisableSubscription(String),
    RotateSubscriptionSecret(String),
    ListEvents,
    GetEvent(String),
    EventDeliveries(String),
    ReplayEvent(String),
    Recover,
    ListDeadLetters,
    GetDeadLetter(String),
    Redrive,
    PurgeDeadLetters,
    OpenApi,
}

impl Route {
    /// The route's method and path as API Gateway and the OpenAPI document name it
    /// (`/v1/sources/{source_id}`): a route without one does not compile.
    pub fn template(&self) -> (&'static str, &'static str) {
        match self {
            Route::ListSources => ("GET", "/v1/sources"),
            Route::CreateSource => ("POST", "/v1/sources"),
            Route::GetSource(_) => ("GET", "/v1/sources/{source_id}"),
            Route::UpdateSource(_) => ("PATCH", "/v1/sources/{source_id}"),
            Route::Publish(_) => ("POST", "/v1/sources/{source_id}/events"),
            Route::DeleteSource(_) => ("DELETE", "/v1/sources/{source_id}"),
            Route::RotateSourceSecret(_) => ("POST", "/v1/sources/{source_id}/rotate-secret"),
            Route::ListSubscriptions => ("GET", "/v1/subscriptions"),
            Route::CreateSubscription => ("POST", "/v1/subscriptions"),
            Route::GetSubscription(_) => ("GET", "/v1/subscriptions/{subscription_id}"),
            Route::UpdateSubscription(_) => ("PATCH", "/v1/subscriptions/{subscription_id}"),
            Route::DeleteSubscription(_) => ("DELETE", "/v1/subscriptions/{subscription_id}"),
            Route::EnableSubscription(_) => ("POST", "/v1/subscriptions/{subscription_id}/enable"),
            Route::DisableSubscription(_) => {
                ("POST", "/v1/subscriptions/{subscription_id}/disable")
            }
            Route::RotateSubscriptionSecret(_) => {
                ("POST", "/v1/subscriptions/{subscription_id}/rotate-secret")
            }
            Route::ListEvents => ("GET", "/v1/events"),
            Route::GetEvent(_) => ("GET", "/v1/events/{event_id}"),
            Route::EventDeliveries(_) => ("GET", "/v1/events/{event_id}/deliveries"),
            Route::ReplayEvent(_) => ("POST", "/v1/events/{event_id}/replay"),
            Route::Recover => ("POST", "/v1/events/replay"),
            Route::ListDeadLetters => ("GET", "/v1/dead-letters"),
            Route::GetDeadLetter(_) => ("GET", "/v1/dead-letters/{event_id}"),
            Route::Redrive => ("POST", "/v1/dead-letters/redrive"),
            Route::PurgeDeadLetters => ("DELETE", "/v1/dead-letters"),
            Route::OpenApi => ("GET", "/v1/openapi.json"),
        }
    }
}

/// Why no route answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// No route has this path.
    NotFound,
    /// Routes have this path, for these methods only.
    MethodNotAllowed { allow: &'static [&'static str] },
}

/// The longest id a path segment may carry.
const MAX_ID_LEN: usize = 200;

/// Whether a path segment can be an id: letters, digits, `-` and `_`, at most 200.
fn is_id(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= MAX_ID_LEN
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The route for `method` on `path`.
pub fn route(method: &str, path: &str) -> Result<Route, NoRoute> {
    let segments: Vec<&str> = match path.strip_prefix("/v1/") {
        Some(rest) => rest.split('/').collect(),
        None => return Err(NoRoute::NotFound),
    };
    let pick = |allow: &'static [&'static str], routes: &dyn Fn(&str) -> Option<Route>| {
        routes(method).ok_or(NoRoute::MethodNotAllowed { allow })
    };
    let id = |s: &str| is_id(s).then(|| s.to_owned()).ok_or(NoRoute::NotFound);
    match segments.as_slice() {
        ["sources"] => pick(&["GET", "POST"], &|m| match m {
            "GET" => Some(Route::ListSources),
            "POST" => Some(Route::CreateSource),
            _ => None,
        }),
        ["sources", raw] => {
            let id = id(raw)?;
            pick(&["GET", "PATCH", "DELETE"], &|m| match m {
                "GET" => Some(Route::GetSource(id.clone())),
                "PATCH" => Some(Route::UpdateSource(id.clone())),
                "DELETE" => Some(Route::DeleteSource(id.clone())),
                _ => None,
            })
        }
        ["sources", raw, "events"] => {
            let id = id(raw)?;
            pick(&["POST"], &|m| {
                (m == "POST").then(|| Route::Publish(id.clone()))
            })
        }
        ["sources", raw, "rotate-secret"] => {
            let id = id(raw)?;
            pick(&["POST"], &|m| {
                (m == "POST").then(|| Route::RotateSourceSecret(id.clone()))
            })
        }
        ["subscriptions"] => pick(&["GET", "POST"], &|m| match m {
            "GET" => Some(Route::ListSubscriptions),
            "POST" => Some(Route::CreateSubscription),
            _ => None,
        }),
        ["subscriptions", raw] => {
            let id = id(raw)?;
            pick(&["GET", "PATCH", "DELETE"], &|m| match m {
                "GET" => Some(Route::GetSubscription(id.clone())),
                "PATCH" => Some(Route::UpdateSubscription(id.clone())),
                "DELETE" => Some(Route::DeleteSubscription(id.clone())),
                _ => None,
            })
        }
        [
            "subscriptions",
            raw,
            action @ ("enable" | "disable" | "rotate-secret"),
        ] => {
            let id = id(raw)?;
            let action = *action;
            pick(&["POST"], &|m| {
                (m == "POST").then(|| match action {
                    "enable" => Route::EnableSubscription(id.clone()),
                    "disable" => Route::DisableSubscription(id.clone()),
                    _ => Route::RotateSubscriptionSecret(id.clone()),
                })
            })
        }
        ["openapi.json"] => pick(&["GET"], &|m| (m == "GET").then_some(Route::OpenApi)),
        ["events"] => pick(&["GET"], &|m| (m == "GET").then_some(Route::ListEvents)),
        // `replay` is not an event id: event ids are `evt_…`.
        ["events", "replay"] => pick(&["POST"], &|m| (m == "POST").then_some(Route::Recover)),
        ["events", raw] => {
            let id = id(raw)?;
            pick(&["GET"], &|m| {
                (m == "GET").then(|| Route::GetEvent(id.clone()))
            })
        }
        ["events", raw, "deliveries"] => {
            let id = id(raw)?;
            pick(&["GET"], &|m| {
                (m == "GET").then(|| Route::EventDeliveries(id.clone()))
            })
        }
        ["events", raw, "replay"] => {
            let id = id(raw)?;
            pick(&["POST"], &|m| {
                (m == "POST").then(|| Route::ReplayEvent(id.clone()))
            })
        }
        ["dead-letters"] => pick(&["GET", "DELETE"], &|m| match m {
            "GET" => Some(Route::ListDeadLetters),
            "DELETE" => Some(Route::PurgeDeadLetters),
            _ => None,
        }),
        ["dead-letters", "redrive"] => {
            pick(&["POST"], &|m| (m == "POST").then_some(Route::Redrive))
        }
        ["dead-letters", raw] => {
            let id = id(raw)?;
            pick(&["GET"], &|m| {
                (m == "GET").then(|| Route::GetDeadLetter(id.clone()))
            })
        }
        _ => Err(NoRoute::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_reached_by_its_method_and_path() {
        let cases = [
            ("GET", "/v1/sources", Route::ListSources),
            ("POST", "/v1/sources", Route::CreateSource),
            ("GET", "/v1/sources/gh", Route::GetSource("gh".into())),
            ("PATCH", "/v1/sources/gh", Route::UpdateSource("gh".into())),
            ("DELETE", "/v1/sources/gh", Route::DeleteSource("gh".into())),
            ("POST", "/v1/sources/gh/events", Route::Publish("gh".into())),
            (
                "POST",
                "/v1/sources/gh/rotate-secret",
                Route::RotateSourceSecret("gh".into()),
            ),
            ("GET", "/v1/subscriptions", Route::ListSubscriptions),
            ("POST", "/v1/subscriptions", Route::CreateSubscription),
            (
                "GET",
                "/v1/subscriptions/sub_1",
                Route::GetSubscription("sub_1".into()),
            ),
            (
                "PATCH",
                "/v1/subscriptions/sub_1",
                Route::UpdateSubscription("sub_1".into()),
            ),
            (
                "DELETE",
                "/v1/subscriptions/sub_1",
                Route::DeleteSubscription("sub_1".into()),
            ),
            (
                "POST",
                "/v1/subscriptions/sub_1/enable",
                Route::EnableSubscription("sub_1".into()),
            ),
            (
                "POST",
                "/v1/subscriptions/sub_1/disable",
                Route::DisableSubscription("sub_1".into()),
            ),
            (
                "POST",
                "/v1/subscriptions/sub_1/rotate-secret",
                Route::RotateSubscriptionSecret("sub_1".into()),
            ),
            ("GET", "/v1/events", Route::ListEvents),
            ("GET", "/v1/events/evt_1", Route::GetEvent("evt_1".into())),
            (
                "GET",
                "/v1/events/evt_1/deliveries",
                Route::EventDeliveries("evt_1".into()),
            ),
            (
                "POST",
                "/v1/events/evt_1/replay",
                Route::ReplayEvent("evt_1".into()),
            ),
            ("POST", "/v1/events/replay", Route::Recover),
            ("GET", "/v1/dead-letters", Route::ListDeadLetters),
            ("DELETE", "/v1/dead-letters", Route::PurgeDeadLetters),
            (
                "GET",
                "/v1/dead-letters/evt_1",
                Route::GetDeadLetter("evt_1".into()),
            ),
            ("POST", "/v1/dead-letters/redrive", Route::Redrive),
            ("GET", "/v1/openapi.json", Route::OpenApi),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(method, path), Ok(expected), "{method} {path}");
        }
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_methods_it_takes() {
        assert_eq!(
            route("GET", "/v1/dead-letters/redrive"),
            Err(NoRoute::MethodNotAllowed { allow: &["POST"] })
        );
        assert_eq!(
            route("GET", "/v1/sources/gh/events"),
            Err(NoRoute::MethodNotAllowed { allow: &["POST"] })
        );
        assert_eq!(
            route("PUT", "/v1/subscriptions/sub_1"),
            Err(NoRoute::MethodNotAllowed {
                allow: &["GET", "PATCH", "DELETE"]
            })
        );
    }

    #[test]
    fn unknown_paths_and_ids_that_cannot_exist_are_not_found() {
        for path in [
            "/",
            "/v1",
            "/v1/",
            "/v2/sources",
            "/v1/sources/",
            "/v1/sources/..%2F",
            "/v1/sources/../secrets",
            "/v1/sources/a%20b",
            "/v1/events/evt_1/deliveries/x",
            "/webhooks/gh",
        ] {
            assert_eq!(route("GET", path), Err(NoRoute::NotFound), "{path}");
        }
        assert_eq!(
            route("GET", &format!("/v1/sources/{}", "a".repeat(201))),
            Err(NoRoute::NotFound)
        );
    }
}
