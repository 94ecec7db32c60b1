//! `GET /openapi.json`: the OpenAPI 3 description, generated from the handlers.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&ApiKeyScheme)
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

/// Serves the description.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
