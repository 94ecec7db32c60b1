//! `GET /openapi.json`: the OpenAPI 3 description, generated from the handlers.
//!
//! The description states what the server enforces, so that a schema-driven client or
//! fuzzer (`scripts/schemathesis.sh`) finds no schema-valid request refused: the
//! question is required, 1 to `server.max_query_chars` characters (the running
//! server's value, not only the default), and has to contain a visible character and
//! no control character ([`QUERY_PATTERN`]). Unknown fields of a request body are
//! ignored, so the request schemas do not forbid them.
//!
//! The streaming answers (`text/event-stream`) are described event by event, as
//! OpenAPI 3.1 reads a `schema` under an event-stream media type: an object with the
//! event's name and its `data`, a JSON text whose own schema is given with
//! `contentMediaType` / `contentSchema` (see [`stream_event_schema`]).

use crate::config::Config;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

/// The default of `server.max_query_chars` (what [`ApiDoc::openapi`] states; the served
/// document states the configured value).
pub const DEFAULT_MAX_QUERY_CHARS: usize = 2000;

/// What `api::query::clean_query` accepts besides the length: at least one visible
/// character, and no control character but tab, newline and carriage return.
///
/// A visible character is none of whitespace, control characters, format characters
/// (Unicode Cf) and the other invisible characters `api::query::is_invisible` strips,
/// nor a lone combining mark. It is written as ranges of the Basic Multilingual Plane
/// so that ECMA-262 (UTF-16) and Python (code point) regex engines agree; characters
/// outside it are accepted by the server but not counted as visible here.
pub const QUERY_PATTERN: &str = concat!(
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*",
    r"[!-~\u00A1-\u00AC\u00AE-\u02FF\u0370-\u05FF\u0606-\u061B\u061D-\u06DC\u06DE-\u070E",
    r"\u0710-\u088F\u0892-\u08E1\u08E3-\u115E\u1161-\u167F\u1681-\u17B3\u17B6-\u180A",
    r"\u1810-\u1FFF\u2010-\u2027\u2030-\u205E\u2070-\u2FFF\u3001-\u3163\u3165-\uD7FF",
    r"\uE000-\uFDFF\uFE10-\uFEFE\uFF01-\uFF9F\uFFA1-\uFFEF]",
    r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
);

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "AutBot", description = "Retrieval-augmented chat server with WebAssembly plugins"),
    paths(
        super::query::query,
        super::query_stream::query_stream,
        super::query_stream::query_stream_get,
        super::version::version,
        super::health::health,
        super::health::ready,
        super::admin::reindex,
        super::admin::plugins,
        super::admin::reload_plugins,
        super::admin::promote,
        super::admin::rollback,
    ),
    components(schemas(
        crate::error::ErrorBody,
        super::query_stream::DeltaEvent,
        super::query_stream::DoneEvent
    )),
    modifiers(&ApiKeyScheme, &DefaultQueryLimits)
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// States the question's constraints on every place it is sent: the `query` property
/// of `QueryRequest` (POST bodies) and the `query` parameter of
/// `GET /api/query/stream`.
pub struct QueryLimits {
    /// `server.max_query_chars`.
    pub max_chars: usize,
}

/// [`QueryLimits`] with the default limit, for the static [`ApiDoc`].
struct DefaultQueryLimits;

impl Modify for DefaultQueryLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        QueryLimits {
            max_chars: DEFAULT_MAX_QUERY_CHARS,
        }
        .modify(openapi)
    }
}

impl QueryLimits {
    fn apply(&self, schema: &mut RefOr<Schema>) {
        if let RefOr::T(Schema::Object(s)) = schema {
            s.min_length = Some(1);
            s.max_length = Some(self.max_chars);
            s.pattern = Some(QUERY_PATTERN.to_string());
            s.description = Some(format!(
                "The question: 1 to {} characters (`server.max_query_chars`), at least one \
                 of them visible, no control characters but tab, newline and carriage \
                 return. Invisible characters are removed and the text is NFKC-normalised \
                 and trimmed before it is checked.",
                self.max_chars
            ));
        }
    }
}

impl Modify for QueryLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(RefOr::T(Schema::Object(request))) = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("QueryRequest"))
        {
            if let Some(query) = request.properties.get_mut("query") {
                self.apply(query);
            }
        }
        let get = openapi
            .paths
            .paths
            .get_mut("/api/query/stream")
            .and_then(|item| item.get.as_mut());
        if let Some(parameters) = get.and_then(|op| op.parameters.as_mut()) {
            for p in parameters.iter_mut().filter(|p| p.name == "query") {
                if let Some(schema) = p.schema.as_mut() {
                    self.apply(schema);
                }
            }
        }
    }
}

/// The events of `/api/query/stream`, in order: `context` once, `delta` any number
/// of times, then `done` or `error`.
pub const STREAM_EVENTS: &[(&str, &str)] = &[
    ("context", "ContextEvent"),
    ("delta", "DeltaEvent"),
    ("done", "DoneEvent"),
    ("error", "ErrorBody"),
];

/// The schema of one server-sent event of an answer stream: its `event` name and its
/// `data`, a JSON document of the schema that goes with the name.
pub fn stream_event_schema() -> Value {
    let one_of: Vec<Value> = STREAM_EVENTS
        .iter()
        .map(|(name, schema)| {
            json!({
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": { "type": "string", "const": name },
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": { "$ref": format!("#/components/schemas/{schema}") }
                    },
                    "id": { "type": "string" },
                    "retry": { "type": "integer", "minimum": 0 }
                }
            })
        })
        .collect();
    json!({
        "description": "One server-sent event: `context` (ContextEvent), `delta` (DeltaEvent) any number of times, then `done` (DoneEvent) or `error` (ErrorBody).",
        "oneOf": one_of
    })
}

/// The description of a server running with `config`.
pub fn document(config: &Config) -> Value {
    let mut doc = ApiDoc::openapi();
    QueryLimits {
        max_chars: config.server.max_query_chars,
    }
    .modify(&mut doc);
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    for method in ["get", "post"] {
        let content = &mut doc["paths"]["/api/query/stream"][method]["responses"]["200"]["content"];
        if let Some(media) = content.get_mut("text/event-stream") {
            media["schema"] = stream_event_schema();
        }
    }
    doc
}

/// Serves the description.
pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state.config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character the query may contain anywhere: anything but a control character
    /// other than tab, newline and carriage return.
    const ALLOWED: &str = r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]";

    /// A visible character: none of whitespace, control characters, format characters
    /// (Unicode Cf) and the other invisible characters `api::query::is_invisible` strips,
    /// nor a lone combining mark. Written as ranges of the Basic Multilingual Plane so
    /// that ECMA-262 (UTF-16) and Python (code point) regex engines agree; characters
    /// outside it are accepted by the server but not counted as visible here.
    const VISIBLE: &str = concat!(
        r"[!-~\u00A1-\u00AC\u00AE-\u02FF\u0370-\u05FF\u0606-\u061B\u061D-\u06DC\u06DE-\u070E",
        r"\u0710-\u088F\u0892-\u08E1\u08E3-\u115E\u1161-\u167F\u1681-\u17B3\u17B6-\u180A",
        r"\u1810-\u1FFF\u2010-\u2027\u2030-\u205E\u2070-\u2FFF\u3001-\u3163\u3165-\uD7FF",
        r"\uE000-\uFDFF\uFE10-\uFEFE\uFF01-\uFF9F\uFFA1-\uFFEF]"
    );

    /// The code point ranges of a character class written as in [`QUERY_PATTERN`].
    fn ranges(class: &str) -> Vec<(u32, u32)> {
        let inner = class
            .trim_start_matches('[')
            .trim_start_matches('^')
            .trim_end_matches(']');
        let mut points = Vec::new();
        let mut rest = inner;
        while !rest.is_empty() {
            if let Some(hex) = rest.strip_prefix("\\u") {
                points.push(u32::from_str_radix(&hex[..4], 16).unwrap());
                rest = &hex[4..];
            } else {
                let c = rest.chars().next().unwrap();
                points.push(if c == '-' { u32::MAX } else { c as u32 });
                rest = &rest[c.len_utf8()..];
            }
        }
        let mut out = Vec::new();
        let mut i = 0;
        while i < points.len() {
            if i + 2 < points.len() && points[i + 1] == u32::MAX {
                out.push((points[i], points[i + 2]));
                i += 3;
            } else {
                out.push((points[i], points[i]));
                i += 1;
            }
        }
        out
    }

    #[test]
    fn the_pattern_is_what_the_validation_accepts() {
        use crate::api::query::clean_query;
        assert_eq!(QUERY_PATTERN, format!("^{ALLOWED}*{VISIBLE}{ALLOWED}*$"));
        // Every "visible" character is a query on its own.
        let visible = ranges(VISIBLE);
        let mut checked = 0;
        for (from, to) in &visible {
            for c in (*from..=*to).filter_map(char::from_u32) {
                assert!(
                    clean_query(&c.to_string(), 100).is_ok(),
                    "U+{:04X} is visible to the schema but refused",
                    c as u32
                );
                checked += 1;
            }
        }
        assert!(checked > 50_000, "{checked}");
        // Every character the schema forbids is refused next to a visible one; every
        // other control character is accepted.
        let forbidden = ranges(ALLOWED);
        for c in (0u32..0x100)
            .filter_map(char::from_u32)
            .filter(|c| c.is_control())
        {
            let is_forbidden = forbidden
                .iter()
                .any(|(a, b)| (*a..=*b).contains(&(c as u32)));
            let verdict = clean_query(&format!("a{c}b"), 100);
            assert_eq!(verdict.is_err(), is_forbidden, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn the_default_limit_is_the_configured_default() {
        assert_eq!(
            DEFAULT_MAX_QUERY_CHARS,
            crate::config::ServerConfig::default().max_query_chars
        );
    }

    #[test]
    fn the_query_constraints_are_stated_where_the_query_is_sent() {
        let mut config = Config::default();
        config.server.max_query_chars = 321;
        let doc = document(&config);
        let body = &doc["components"]["schemas"]["QueryRequest"];
        assert_eq!(body["required"], serde_json::json!(["query"]));
        let query = &body["properties"]["query"];
        assert_eq!(query["minLength"], 1);
        assert_eq!(query["maxLength"], 321);
        assert_eq!(query["pattern"], QUERY_PATTERN);
        // Unknown fields are ignored by the server: not forbidden by the schema.
        assert!(body.get("additionalProperties").is_none_or(|v| v != false));
        let params = doc["paths"]["/api/query/stream"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let param = params.iter().find(|p| p["name"] == "query").unwrap();
        assert_eq!(param["required"], true);
        assert_eq!(param["schema"]["maxLength"], 321);
        assert_eq!(param["schema"]["pattern"], QUERY_PATTERN);
        // The static description states the default.
        let default: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(
            default["components"]["schemas"]["QueryRequest"]["properties"]["query"]["maxLength"],
            DEFAULT_MAX_QUERY_CHARS
        );
    }

    #[test]
    fn stream_responses_are_described_event_by_event() {
        let doc = document(&Config::default());
        for method in ["get", "post"] {
            let schema = &doc["paths"]["/api/query/stream"][method]["responses"]["200"]["content"]
                ["text/event-stream"]["schema"];
            let kinds = schema["oneOf"].as_array().unwrap();
            assert_eq!(kinds.len(), STREAM_EVENTS.len(), "{method}");
            for (kind, (name, component)) in kinds.iter().zip(STREAM_EVENTS) {
                assert_eq!(kind["properties"]["event"]["const"], *name);
                let target = kind["properties"]["data"]["contentSchema"]["$ref"]
                    .as_str()
                    .unwrap();
                assert_eq!(target, format!("#/components/schemas/{component}"));
                assert!(
                    doc["components"]["schemas"][component].is_object(),
                    "{component}"
                );
            }
        }
    }
}
