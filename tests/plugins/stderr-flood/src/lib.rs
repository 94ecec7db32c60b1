//! Hostile preprocessor: writes 1 MiB to stderr, then passes the query on with a
//! marker. The host must neither panic (stderr is a WASI stream) nor trap the
//! call, and must keep only a bounded excerpt for the log. Imports no capability.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};
use std::io::Write;

struct StderrFlood;

impl Guest for StderrFlood {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        let line = [b'E'; 1023];
        let mut err = std::io::stderr();
        for _ in 0..1024 {
            let _ = err.write_all(&line);
            let _ = err.write_all(b"\n");
        }
        let _ = err.flush();
        Ok(Query {
            text: format!("{} stderrflood", q.text),
            ..q
        })
    }
}

autbot_sdk::export_preprocessor!(StderrFlood);
