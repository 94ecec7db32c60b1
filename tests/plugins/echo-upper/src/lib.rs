//! Test preprocessor: uppercases the query text (a visible, testable change).
//! Imports no capability.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};

struct EchoUpper;

impl Guest for EchoUpper {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        Ok(Query {
            text: q.text.to_uppercase(),
            ..q
        })
    }
}

autbot_sdk::export_preprocessor!(EchoUpper);
