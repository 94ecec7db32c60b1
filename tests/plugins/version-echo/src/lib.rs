//! Test prompt builder: the system message is exactly `VERSION=<v>`, where
//! `<v>` is `AUTBOT_TEST_VERSION` at build time (default `1`), so a test can
//! tell which build of the plugin served a request (hot reload). The user
//! message holds the passages and the question. Imports no capability.
//!
//! `scripts/build-plugins.sh` builds `version-echo-1.wasm` and
//! `version-echo-2.wasm` from it.

use autbot_sdk::prompt_builder::{Guest, Message, Passage, Query};

const VERSION: &str = match option_env!("AUTBOT_TEST_VERSION") {
    Some(v) => v,
    None => "1",
};

struct VersionEcho;

impl Guest for VersionEcho {
    fn build_prompt(q: Query, passages: Vec<Passage>) -> Vec<Message> {
        let mut user = String::from("Context:\n");
        for p in &passages {
            user.push_str(&format!("[{}] ({}) {}\n", p.id, p.source, p.text));
        }
        user.push_str("\nQuestion: ");
        user.push_str(&q.text);
        vec![
            Message::system(format!("VERSION={VERSION}")),
            Message::user(user),
        ]
    }
}

autbot_sdk::export_prompt_builder!(VersionEcho);
