//! `question-condenser` — example preprocessor for chats: turns a follow-up
//! question ("and the winter one?") into a standalone question ("When does the
//! winter market open?") with the language model, so retrieval searches for what
//! the person means. A single question (no earlier turns) is passed through
//! without a model call.
//!
//! Grant in `autbot.toml`:
//! ```toml
//! [[plugins.chain]]
//! name = "question-condenser"
//! hook = "preprocessor"
//! path = "examples/plugins/dist/question-condenser.wasm"
//! capabilities = ["conversation", "llm", "log", "config"]
//! deadline_ms = 10000   # one model call
//! on_error = "skip"     # the model down: answer the question as written
//! [plugins.chain.config]
//! max_turns = 6         # earlier messages shown to the model
//! ```
//! Order: put it first (before `query-guard`, which then checks the rewritten
//! question too).

use autbot_sdk::preprocessor::{Guest, Query, Rejection};
use autbot_sdk::{config, conversation, llm, log, Message, Role};

/// The instruction given to the model.
const INSTRUCTION: &str = "Rewrite the user's last question so that it can be understood \
without the conversation: resolve pronouns and references (\"it\", \"that one\", \"and the \
winter one?\") from the earlier messages. Keep the language and meaning; do not answer it. \
Reply with the rewritten question only, on one line.";

/// Longest rewritten question accepted; a longer reply is not a question.
const MAX_CHARS: usize = 500;

struct Condenser;

impl Guest for Condenser {
    fn preprocess(q: Query) -> Result<Query, Rejection> {
        let history = conversation::history();
        if !history.iter().any(|m| m.role == Role::User) {
            return Ok(q);
        }
        let max_turns = config::get_parsed_or("max_turns", 6usize).unwrap_or(6);
        let prompt = condense_prompt(&history, &q.text, max_turns);
        match llm::complete(&prompt) {
            Ok(reply) => match standalone(&reply) {
                Some(text) => {
                    log::debug(&format!("condensed the follow-up into: {text}"));
                    Ok(Query { text, ..q })
                }
                None => Ok(q),
            },
            Err(e) => {
                log::warn(&format!("could not condense the question: {e}"));
                Ok(q)
            }
        }
    }
}

autbot_sdk::export_preprocessor!(Condenser);

/// The messages asking the model for a standalone question: the instruction, the
/// last `max_turns` user and assistant messages as a transcript, then the question.
pub fn condense_prompt(history: &[Message], question: &str, max_turns: usize) -> Vec<Message> {
    let turns: Vec<&Message> = history.iter().filter(|m| m.role != Role::System).collect();
    let recent = &turns[turns.len().saturating_sub(max_turns)..];
    let mut transcript = String::new();
    for m in recent {
        let who = if m.role == Role::User {
            "User"
        } else {
            "Assistant"
        };
        transcript.push_str(&format!("{who}: {}\n", m.content.trim()));
    }
    vec![
        Message::system(INSTRUCTION),
        Message::user(format!(
            "Conversation:\n{transcript}\nLast question: {question}\n\nStandalone question:"
        )),
    ]
}

/// The model's reply as a question: first line, trimmed, quotes removed; `None`
/// when empty or too long.
pub fn standalone(reply: &str) -> Option<String> {
    let line = reply.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .trim();
    (!line.is_empty() && line.chars().count() <= MAX_CHARS).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transcript_keeps_the_latest_turns_and_ends_with_the_question() {
        let history = vec![
            Message::system("ignored"),
            Message::user("first"),
            Message::assistant("one"),
            Message::user("When does the summer market open?"),
            Message::assistant("At 8."),
        ];
        let prompt = condense_prompt(&history, "and the winter one?", 2);
        let user = &prompt[1].content;
        assert!(!user.contains("first") && !user.contains("ignored"));
        assert!(user.contains("User: When does the summer market open?\nAssistant: At 8.\n"));
        assert!(user.contains("Last question: and the winter one?"));
    }

    #[test]
    fn replies_are_cleaned_or_refused() {
        assert_eq!(
            standalone("\n \"When does the winter market open?\"\nextra").as_deref(),
            Some("When does the winter market open?")
        );
        assert_eq!(standalone("  \n"), None);
        assert_eq!(standalone(&"x".repeat(501)), None);
    }
}
