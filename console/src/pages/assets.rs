//! The stylesheet and the script, compiled into the binary and served from it: the CSP allows
//! only this origin's files, and nothing is fetched from anywhere else.

use axum::response::IntoResponse;
use http::header;

const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

pub async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}
