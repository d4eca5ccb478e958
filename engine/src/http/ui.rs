//! The web UI: its pages and their assets (`engine/ui/`, compiled into the binary with
//! `include_str!`, so the server serves them offline and needs no build step of their own).
//! `/` redirects to `/graph`, as Prometheus does; every page path answers the one HTML shell,
//! whose scripts draw the page from the Prometheus and InfluxDB APIs. The assets need no
//! credentials: what the pages show comes from the API, which checks them.

use super::ApiError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

/// The page paths; each answers the shell (`index.html`), whose script picks the page by path.
pub const PAGES: [&str; 5] = ["/graph", "/tsdb-status", "/databases", "/cluster", "/status"];

const SHELL: &str = include_str!("../../ui/index.html");

/// The files under `/ui/`: name, content type, content.
const ASSETS: [(&str, &str, &str); 7] = [
    ("style.css", "text/css; charset=utf-8", include_str!("../../ui/style.css")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../../ui/api.js")),
    ("chart.js", "text/javascript; charset=utf-8", include_str!("../../ui/chart.js")),
    ("complete.js", "text/javascript; charset=utf-8", include_str!("../../ui/complete.js")),
    ("graph.js", "text/javascript; charset=utf-8", include_str!("../../ui/graph.js")),
    ("pages.js", "text/javascript; charset=utf-8", include_str!("../../ui/pages.js")),
    ("favicon.svg", "image/svg+xml", include_str!("../../ui/favicon.svg")),
];

/// The UI's routes: `/`, the pages and `/ui/<asset>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/").route(web::get().to(root)));
    for page in PAGES {
        cfg.service(super::endpoint(page).route(web::get().to(shell)));
    }
    cfg.service(super::endpoint("/ui/{file}").route(web::get().to(asset)));
}

async fn root() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/graph")).finish()
}

/// An embedded file; `no-cache` makes the browser revalidate, so a new binary's UI shows at once.
fn embedded(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).insert_header((header::CACHE_CONTROL, "no-cache")).body(body)
}

async fn shell() -> HttpResponse {
    embedded("text/html; charset=utf-8", SHELL)
}

async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no such file: /ui/{file}")))?;
    Ok(embedded(content_type, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, App};

    async fn get(path: &str) -> (u16, String, String, String) {
        let app = test::init_service(App::new().configure(configure)).await;
        let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        let header = |name| res.headers().get(name).map(|v: &header::HeaderValue| v.to_str().unwrap().to_string()).unwrap_or_default();
        let (content_type, location) = (header(header::CONTENT_TYPE), header(header::LOCATION));
        let status = res.status().as_u16();
        let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        (status, content_type, location, body)
    }

    #[actix_web::test]
    async fn root_redirects_to_graph() {
        let (status, _, location, _) = get("/").await;
        assert_eq!((status, location.as_str()), (302, "/graph"));
    }

    #[actix_web::test]
    async fn pages_answer_the_shell_as_html() {
        for page in ["/graph?g0.expr=up&g0.tab=0", "/tsdb-status", "/databases", "/cluster", "/status"] {
            let (status, content_type, _, body) = get(page).await;
            assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"), "{page}");
            assert!(body.starts_with("<!DOCTYPE html>") && body.contains("/ui/graph.js"), "{page}");
        }
    }

    #[actix_web::test]
    async fn assets_with_their_content_types() {
        for (path, wanted) in [("/ui/style.css", "text/css; charset=utf-8"), ("/ui/graph.js", "text/javascript; charset=utf-8"), ("/ui/favicon.svg", "image/svg+xml")] {
            let (status, content_type, _, body) = get(path).await;
            assert_eq!((status, content_type.as_str()), (200, wanted), "{path}");
            assert!(!body.is_empty(), "{path}");
        }
    }

    #[actix_web::test]
    async fn unknown_asset_is_404() {
        let (status, content_type, _, body) = get("/ui/nothing.js").await;
        assert_eq!((status, content_type.as_str()), (404, "application/json"));
        assert_eq!(body, r#"{"error":"no such file: /ui/nothing.js"}"#);
    }
}
