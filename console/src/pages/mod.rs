//! The pages, one module each, and the router that puts them at their URLs behind the guard.
//! Every list and every record has its own URL (bookmarkable); every change is a `POST`.

pub mod assets;
pub mod charts;
pub mod dead_letters;
pub mod detail;
pub mod events;
pub mod layout;
pub mod overview;
pub mod subscriptions;

use std::sync::Arc;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use maud::html;

use crate::App;
use crate::guard::{GuardConfig, guard, security_headers};
use crate::pages::layout::Section;

/// A page handler's answer.
pub type PageResult = Result<Html<String>, crate::failure::Failure>;

/// Every route, behind the guard, with the security headers on every answer.
pub fn router(app: Arc<App>, config: Arc<GuardConfig>) -> Router {
    Router::new()
        .route("/", get(overview::show))
        .route("/dead-letters", get(dead_letters::list))
        .route("/dead-letters/redrive", post(dead_letters::redrive))
        .route("/dead-letters/purge", post(dead_letters::purge))
        .route("/dead-letters/{id}", get(dead_letters::show))
        .route("/events", get(events::list))
        .route("/events/recover", post(events::recover))
        .route("/events/{id}", get(events::show))
        .route("/events/{id}/replay", post(events::replay))
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{id}", get(subscriptions::show))
        .route("/subscriptions/{id}/enable", post(subscriptions::enable))
        .route("/subscriptions/{id}/disable", post(subscriptions::disable))
        .route("/subscriptions/{id}/rotate", post(subscriptions::rotate))
        .route("/charts", get(charts::show))
        .route("/charts/dead-letter-depth", get(charts::depth))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .fallback(not_found)
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(config, guard))
        .layer(axum::middleware::map_response(security_headers))
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout::page(
            "Not found",
            Section::None,
            html! { p #not-found { "There is no page here." } a href="/" { "Back to the overview" } },
        ),
    )
        .into_response()
}
