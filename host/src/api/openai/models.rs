//! `GET /v1/models`: the names clients may send as `model` (`[[openai_api.models]]`).

use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;

/// One model, as OpenAI lists it.
#[derive(Debug, Serialize)]
pub struct ModelCard {
    pub id: String,
    pub object: &'static str,
    /// When this server started (Unix seconds): the configuration took effect then.
    pub created: u64,
    pub owned_by: &'static str,
}

/// The list.
#[derive(Debug, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelCard>,
}

/// Lists the configured model names.
pub async fn list(State(state): State<AppState>) -> Json<ModelList> {
    let created = super::started_at();
    let data = state
        .config
        .openai_api
        .models
        .iter()
        .map(|m| ModelCard {
            id: m.name.clone(),
            object: "model",
            created,
            owned_by: "autbot",
        })
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}
