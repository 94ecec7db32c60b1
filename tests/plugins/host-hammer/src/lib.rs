//! Hostile preprocessor that abuses its capabilities, chosen by its `mode` setting:
//!
//! - `llm`: calls `llm.complete` `calls` times (default 200) and appends how many
//!   succeeded (`llm-ok=N`) to the query;
//! - `log`: writes `calls` log lines (default 100000);
//! - `slow-llm`: one `llm.complete` call (the test's model answers slowly);
//! - `search`: one `search` call, appending the best passage's source
//!   (`search-top=<source>`) to the query.
//!
//! Imports `config`, `log`, `llm` and `search`.

use autbot_sdk::preprocessor::{Guest, Query, Rejection};
use autbot_sdk::Message;
use autbot_sdk::{config, llm, log, search};

struct HostHammer;

impl Guest for HostHammer {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        let mode = config::get_or("mode", "llm");
        let calls: u32 = config::get_parsed_or("calls", 0).unwrap_or(0);
        match mode.as_str() {
            "log" => {
                for i in 0..(if calls == 0 { 100_000 } else { calls }) {
                    log::info(&format!("flood line {i}"));
                }
                Ok(q)
            }
            "search" => {
                let top = match search::search(&q.text, 1) {
                    Ok(hits) => hits.first().map_or("none".into(), |p| p.source.clone()),
                    Err(e) => format!("error: {e}"),
                };
                Ok(Query {
                    text: format!("{} search-top={top}", q.text),
                    ..q
                })
            }
            "slow-llm" => {
                let _ = llm::complete(&[Message::user(q.text.clone())]);
                Ok(q)
            }
            _ => {
                let mut ok = 0;
                for _ in 0..(if calls == 0 { 200 } else { calls }) {
                    if llm::complete(&[Message::user(q.text.clone())]).is_ok() {
                        ok += 1;
                    }
                }
                Ok(Query {
                    text: format!("{} llm-ok={ok}", q.text),
                    ..q
                })
            }
        }
    }
}

autbot_sdk::export_preprocessor!(HostHammer);
