//! Test ranker: calls `llm::complete` and `search::search`, so its component
//! imports `autbot:plugin/llm` and `autbot:plugin/search`. The host must
//! refuse to load it unless both capabilities are granted.

use autbot_sdk::ranker::{Guest, Message, Passage, Query, Ranked};
use autbot_sdk::{llm, search};

struct Greedy;

impl Guest for Greedy {
    fn rank(q: Query, candidates: Vec<Passage>) -> Vec<Ranked> {
        // If it is ever loaded, the results are ignored: the scores stay the
        // host's, in the order given.
        let _ = search::search(&q.text, 3);
        let _ = llm::complete(&[Message::user(q.text.clone())]);
        candidates
            .into_iter()
            .map(|p| Ranked::new(p.id, p.score))
            .collect()
    }
}

autbot_sdk::export_ranker!(Greedy);
