//! The built-in chat page: `GET /`, and its script and style under `/chat/`, embedded in
//! the binary (no build step, nothing from another origin). The page is a client of the
//! public OpenAI-compatible API (`/v1/models`, `/v1/chat/completions`) like any other;
//! the router mounts these routes only when `server.chat_page` is on.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const INDEX_HTML: &str = include_str!("../../assets/chat/index.html");
const CHAT_JS: &str = include_str!("../../assets/chat/chat.js");
const CHAT_CSS: &str = include_str!("../../assets/chat/chat.css");

/// The page's policy: its own script and style files only (nothing inline), requests
/// to its own origin only, no forms posted anywhere, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Assets named with `?v=<this>` are cached for a year; another binary's page asks for
/// another version, so a browser never mixes an old script with a new page.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A digest of the script and the style: their `?v=` in the page, and their `ETag`.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(CHAT_JS)
        .chain_update(CHAT_CSS)
        .finalize();
    hex::encode(&digest[..8])
});

/// `/`, `/chat/chat.js` and `/chat/chat.css`, each with the security headers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/chat/chat.js", get(script))
        .route("/chat/chat.css", get(style))
        .layer(map_response(security_headers))
}

/// The page, with the configured title and intro (HTML-escaped). Revalidated on every
/// load (`no-cache`), so a changed configuration shows at once.
async fn index(State(state): State<AppState>) -> Response {
    let server = &state.config.server;
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page(&server.chat_title, &server.chat_intro),
    )
        .into_response()
}

async fn script(uri: Uri, headers: HeaderMap) -> Response {
    asset(CHAT_JS, "text/javascript; charset=utf-8", &uri, &headers)
}

async fn style(uri: Uri, headers: HeaderMap) -> Response {
    asset(CHAT_CSS, "text/css; charset=utf-8", &uri, &headers)
}

/// The page's HTML for this title and intro.
pub fn page(title: &str, intro: &str) -> String {
    render(
        INDEX_HTML,
        &[("title", title), ("intro", intro), ("version", &VERSION)],
    )
}

/// An embedded file: immutable under the current `?v=`, revalidated otherwise; 304 when
/// the browser already holds this version.
fn asset(
    body: &'static str,
    content_type: &'static str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let etag = format!("\"{}\"", *VERSION);
    let current = uri.query() == Some(format!("v={}", *VERSION).as_str());
    let cache = if current { IMMUTABLE } else { "no-cache" };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag)
        });
    if fresh {
        let headers = [(header::ETAG, etag), (header::CACHE_CONTROL, cache.into())];
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

/// Adds the security headers to every answer of these routes.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    response
}

/// Fills `{{name}}` slots in one pass with HTML-escaped values (a value is never
/// scanned again, so text that looks like a slot stays text). Unknown slots stay as
/// they are.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let slot = after.find("}}").and_then(|end| {
            let name = &after[..end];
            let value = values.iter().find(|(k, _)| *k == name)?.1;
            Some((end, value))
        });
        match slot {
            Some((end, value)) => {
                escape_into(&mut out, value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML-escapes text for element content and quoted attribute values.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_intro_are_escaped_and_every_slot_is_filled() {
        let html = page(
            "<script>alert(1)</script> & \"Co\"",
            "Ask {{title}} <b>now</b>",
        );
        assert!(html
            .contains("<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;</title>"));
        assert!(
            html.contains("Ask {{title}} &lt;b&gt;now&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"));
        assert_eq!(
            html.matches("{{").count(),
            1,
            "only the intro's own text: {html}"
        );
        let v = format!("/chat/chat.js?v={}", *VERSION);
        assert!(html.contains(&v), "{html}");
    }

    #[test]
    fn the_page_has_no_inline_script_style_or_handlers() {
        let html = page("t", "i");
        // Every <script> loads a file and has no body.
        for piece in html.split("<script").skip(1) {
            let tag_end = piece.find('>').expect("tag end");
            assert!(piece[..tag_end].contains("src=\"/chat/"), "{piece}");
            assert!(piece[tag_end + 1..].starts_with("</script>"), "{piece}");
        }
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        let handler = html.match_indices(" on").any(|(i, _)| {
            let name: String = html[i + 3..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            html[i + 3 + name.len()..].starts_with('=')
        });
        assert!(!handler, "no inline event handlers");
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        // Server text goes into the page as text, never as markup.
        assert!(!CHAT_JS.contains("innerHTML"));
        assert!(!CHAT_JS.contains("insertAdjacentHTML"));
    }

    #[test]
    fn unknown_or_unclosed_slots_are_left_alone() {
        assert_eq!(render("a {{x}} {{y", &[("z", "1")]), "a {{x}} {{y");
        assert_eq!(
            render("{{z}}{{z}}", &[("z", "<&>")]),
            "&lt;&amp;&gt;&lt;&amp;&gt;"
        );
    }
}
