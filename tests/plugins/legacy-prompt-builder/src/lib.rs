//! A prompt-builder as a plugin author wrote it against `autbot:plugin@0.1.0`
//! (the frozen `wit/v0.1.0/autbot.wit`), with the `log` and `config` capabilities
//! of that version. The host must keep loading and calling it (COMPATIBILITY.md).
//! It marks its prompt so tests can see it ran: the system message is the config
//! value `marker` (or "legacy-0.1"), the user message the question and the passage
//! sources.

wit_bindgen::generate!({
    world: "prompt-builder",
    path: "../../../wit/v0.1.0",
});

use autbot::plugin::types::Role;
use autbot::plugin::{config, log};

struct Legacy;

impl Guest for Legacy {
    fn build_prompt(q: Query, passages: Vec<Passage>) -> Vec<Message> {
        log::log(
            log::Level::Info,
            "legacy prompt-builder (contract 0.1.0) called",
        );
        let marker = config::get("marker").unwrap_or_else(|| "legacy-0.1".into());
        let sources: Vec<String> = passages.iter().map(|p| p.source.clone()).collect();
        vec![
            Message {
                role: Role::System,
                content: marker,
            },
            Message {
                role: Role::User,
                content: format!("{}\nsources: {}", q.text, sources.join(", ")),
            },
        ]
    }
}

export!(Legacy);
