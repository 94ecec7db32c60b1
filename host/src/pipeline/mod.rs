//! The request pipeline: one module per concern, composed in [`crate::app::router`]
//! where the order is visible.

pub mod access_log;
pub mod admin_auth;
pub mod auth_failures;
pub mod body_read;
pub mod client_addr;
pub mod client_concurrency;
pub mod client_key;
pub mod cors;
pub mod error_body;
pub mod guarded_body;
pub mod json_body;
pub mod load_shed;
pub mod metrics;
pub mod openai_error;
pub mod rate_limit;
pub mod request_id;
pub mod timeout;

#[cfg(test)]
mod tests;
