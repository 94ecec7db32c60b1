//! The body of `POST /v1/chat/completions`, checked field by field: what AutBot
//! honours is parsed into an [`Ask`](crate::answer::Ask); what it cannot honour
//! (tools, several choices, log probabilities, images, ...) is a 400 naming the
//! parameter, never silently ignored; unknown fields are refused the same way.

use crate::api::query::{clean_query, normalise};
use crate::error::Error;
use crate::llm::{ChatMessage, GenerationOptions, Role};
use serde_json::{Map, Value};

/// A parsed chat request.
#[derive(Debug)]
pub struct ChatRequest {
    /// The public model name asked for.
    pub model: String,
    /// The last user message, validated like `/api/query`'s `query`.
    pub question: String,
    /// The messages before it (the latest `max_history` of them).
    pub history: Vec<ChatMessage>,
    pub options: GenerationOptions,
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

/// Limits the request is checked against.
pub struct RequestLimits {
    pub max_query_chars: usize,
    pub max_history: usize,
}

/// Parameters accepted and honoured (or passed to the model).
const HONOURED: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "user",
];

/// Parameters accepted only at a value that asks for nothing AutBot cannot do.
const ONLY_NEUTRAL: &[&str] = &[
    "n",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parallel_tool_calls",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "response_format",
    "modalities",
    "audio",
    "prediction",
    "store",
    "metadata",
    "service_tier",
    "reasoning_effort",
    "web_search_options",
];

fn bad(code: &'static str, param: &str, message: impl Into<String>) -> Error {
    Error::InvalidParameter {
        code,
        param: param.to_string(),
        message: message.into(),
    }
}

/// Parses and checks the JSON body.
pub fn parse(body: Value, limits: &RequestLimits) -> Result<ChatRequest, Error> {
    let Value::Object(mut map) = body else {
        return Err(Error::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        ));
    };
    for (key, value) in &map {
        if HONOURED.contains(&key.as_str()) {
            continue;
        }
        if !ONLY_NEUTRAL.contains(&key.as_str()) {
            let key: String = key.chars().take(64).collect();
            return Err(bad(
                "unsupported_parameter",
                &key,
                format!("`{key}` is not a parameter this server knows"),
            ));
        }
        if let Some(why) = refusal(key, value) {
            return Err(bad("unsupported_parameter", key, why));
        }
    }
    let model = match map.remove("model") {
        Some(Value::String(m)) if !m.is_empty() => m,
        Some(_) => return Err(bad("wrong_type", "model", "`model` must be a string")),
        None => {
            return Err(bad(
                "missing_field",
                "model",
                "`model` is required; GET /v1/models lists the names",
            ))
        }
    };
    let messages = match map.remove("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(bad(
                "invalid_value",
                "messages",
                "`messages` is empty; send at least the user's question",
            ))
        }
        Some(_) => return Err(bad("wrong_type", "messages", "`messages` must be an array")),
        None => return Err(bad("missing_field", "messages", "`messages` is required")),
    };
    let mut turns = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<Turn>, _>>()?;
    let last = turns
        .pop()
        .filter(|m| m.message.role == Role::User)
        .ok_or_else(|| {
            bad(
                "invalid_value",
                "messages",
                "the last message must be the user's question (role `user`)",
            )
        })?;
    // Checked from the raw text, exactly as `/api/query` checks its `query`.
    let question = clean_query(&last.raw, limits.max_query_chars)?;
    let skip = turns.len().saturating_sub(limits.max_history);
    let history = turns
        .split_off(skip)
        .into_iter()
        .map(|t| t.message)
        .collect();
    let stream = flag(&map, "stream")?;
    let include_usage = match map.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => {
            if let Some(k) = o.keys().find(|k| *k != "include_usage") {
                return Err(bad(
                    "unsupported_parameter",
                    "stream_options",
                    format!("`stream_options.{k}` is not supported"),
                ));
            }
            flag(o, "include_usage")?
        }
        Some(_) => {
            return Err(bad(
                "wrong_type",
                "stream_options",
                "`stream_options` must be an object",
            ))
        }
    };
    if include_usage && !stream {
        return Err(bad(
            "invalid_value",
            "stream_options",
            "`stream_options` is only allowed with `stream: true`",
        ));
    }
    Ok(ChatRequest {
        model,
        question,
        history,
        options: options(&map)?,
        stream,
        include_usage,
    })
}

/// Why a neutral-only parameter's value cannot be honoured (`None`: it is neutral).
fn refusal(key: &str, v: &Value) -> Option<String> {
    let neutral = match key {
        "n" => v.is_null() || v.as_u64() == Some(1),
        "tools" | "functions" => v.is_null() || v.as_array().is_some_and(|a| a.is_empty()),
        "tool_choice" | "function_call" => v.is_null() || v == "none",
        // Meaningless without tools.
        "parallel_tool_calls" => v.is_null() || v.is_boolean(),
        "logprobs" => v.is_null() || v == &Value::Bool(false),
        "top_logprobs" => v.is_null() || v.as_u64() == Some(0),
        "logit_bias" => v.is_null() || v.as_object().is_some_and(|o| o.is_empty()),
        "response_format" => v.is_null() || v.get("type").is_some_and(|t| t == "text"),
        "modalities" => v.is_null() || v.as_array().is_some_and(|a| a.iter().all(|m| m == "text")),
        // Labels for the client's own bookkeeping at OpenAI; nothing is stored here.
        "metadata" => v.is_null() || v.is_object(),
        "store" => v.is_null() || v == &Value::Bool(false),
        "service_tier" => v.is_null() || v == "auto" || v == "default",
        _ => v.is_null(),
    };
    if neutral {
        return None;
    }
    Some(match key {
        "n" => "only one choice is generated: `n` must be 1".into(),
        "tools" | "functions" | "tool_choice" | "function_call" => {
            "tool and function calling are not supported: AutBot answers from its documents".into()
        }
        "logprobs" | "top_logprobs" => "log probabilities are not available".into(),
        "response_format" => "only `{\"type\": \"text\"}` answers are produced".into(),
        "modalities" | "audio" => "only text answers are produced".into(),
        "store" => "completions are not stored by this server".into(),
        other => format!("`{other}` is not supported by this server"),
    })
}

/// An input message: as plugins and the model see it, and its text as sent.
struct Turn {
    message: ChatMessage,
    raw: String,
}

/// One input message: its role and its text (a string, or text parts).
fn message(i: usize, m: Value) -> Result<Turn, Error> {
    let param = format!("messages[{i}]");
    let Value::Object(mut m) = m else {
        return Err(bad("wrong_type", &param, "each message must be an object"));
    };
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        // `developer` is the newer name of `system`.
        Some("system" | "developer") => Role::System,
        Some(r @ ("tool" | "function")) => {
            return Err(bad(
                "unsupported_parameter",
                &param,
                format!("`{r}` messages are not supported: there is no tool calling"),
            ))
        }
        Some(other) => {
            return Err(bad(
                "invalid_value",
                &param,
                format!(
                    "unknown role `{}`",
                    other.chars().take(40).collect::<String>()
                ),
            ))
        }
        None => return Err(bad("missing_field", &param, "each message needs a `role`")),
    };
    if m.get("tool_calls").is_some_and(|t| !t.is_null())
        || m.get("function_call").is_some_and(|t| !t.is_null())
    {
        return Err(bad(
            "unsupported_parameter",
            &param,
            "tool calls are not supported",
        ));
    }
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "role" | "content" | "name" | "refusal"))
    {
        return Err(bad(
            "unsupported_parameter",
            &param,
            format!(
                "message field `{}` is not supported",
                k.chars().take(64).collect::<String>()
            ),
        ));
    }
    let text = match m.remove("content") {
        Some(Value::String(s)) => s,
        Some(Value::Array(parts)) => text_parts(&param, parts)?,
        Some(Value::Null) | None => {
            return Err(bad(
                "missing_field",
                &param,
                "each message needs its text in `content`",
            ))
        }
        Some(_) => {
            return Err(bad(
                "wrong_type",
                &param,
                "`content` must be a string or an array of text parts",
            ))
        }
    };
    // Earlier turns reach plugins and the model: the same invisible characters are
    // dropped as from the question (which `clean_query` then checks fully).
    // control characters other than line breaks and tabs are dropped.
    let content = normalise(&text)
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .collect();
    Ok(Turn {
        message: ChatMessage { role, content },
        raw: text,
    })
}

/// The text of a content array; any part that is not text (images, audio, files)
/// is refused.
fn text_parts(param: &str, parts: Vec<Value>) -> Result<String, Error> {
    let mut texts = Vec::with_capacity(parts.len());
    for part in parts {
        match (part.get("type").and_then(Value::as_str), part.get("text")) {
            (Some("text"), Some(Value::String(t))) => texts.push(t.clone()),
            (Some(kind @ ("image_url" | "input_audio" | "file" | "input_image")), _) => {
                return Err(bad(
                    "unsupported_parameter",
                    param,
                    format!("`{kind}` content is not supported: only text"),
                ))
            }
            _ => {
                return Err(bad(
                    "invalid_value",
                    param,
                    "a content part must be `{\"type\": \"text\", \"text\": \"...\"}`",
                ))
            }
        }
    }
    Ok(texts.join("\n"))
}

/// A boolean field, false when absent or null.
fn flag(map: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad("wrong_type", key, format!("`{key}` must be a boolean"))),
    }
}

/// A number field within `range`, or none.
fn number(
    map: &Map<String, Value>,
    key: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if range.contains(&x) => Ok(Some(x)),
            _ => Err(bad(
                "invalid_value",
                key,
                format!(
                    "`{key}` must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
        Some(_) => Err(bad("wrong_type", key, format!("`{key}` must be a number"))),
    }
}

/// The sampling parameters.
fn options(map: &Map<String, Value>) -> Result<GenerationOptions, Error> {
    let max_tokens = match (
        number(map, "max_tokens", 1.0..=1e9)?,
        number(map, "max_completion_tokens", 1.0..=1e9)?,
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if max_tokens.is_some_and(|m| m.fract() != 0.0) {
        return Err(bad(
            "invalid_value",
            "max_tokens",
            "`max_tokens` must be a whole number",
        ));
    }
    let seed = match map.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| bad("wrong_type", "seed", "`seed` must be an integer"))?,
        ),
    };
    let stop = match map.get("stop") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) if a.len() <= 4 => Some(
            a.iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("wrong_type", "stop", "`stop` must hold strings"))?,
        ),
        Some(_) => {
            return Err(bad(
                "invalid_value",
                "stop",
                "`stop` must be a string or up to 4 strings",
            ))
        }
    };
    let user = match map.get("user") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if u.chars().count() <= 256 => Some(u.clone()),
        Some(_) => {
            return Err(bad(
                "invalid_value",
                "user",
                "`user` must be a string of at most 256 characters",
            ))
        }
    };
    Ok(GenerationOptions {
        temperature: number(map, "temperature", 0.0..=2.0)?.map(|x| x as f32),
        top_p: number(map, "top_p", 0.0..=1.0)?.map(|x| x as f32),
        max_tokens: max_tokens.map(|m| m.min(u32::MAX as f64) as u32),
        seed,
        stop,
        presence_penalty: number(map, "presence_penalty", -2.0..=2.0)?.map(|x| x as f32),
        frequency_penalty: number(map, "frequency_penalty", -2.0..=2.0)?.map(|x| x as f32),
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: RequestLimits = RequestLimits {
        max_query_chars: 50,
        max_history: 3,
    };

    fn ok(body: Value) -> ChatRequest {
        parse(body, &LIMITS).unwrap()
    }

    fn err(body: Value) -> (u16, String, String) {
        let e = parse(body, &LIMITS).unwrap_err();
        (e.status().as_u16(), e.code(), e.to_string())
    }

    #[test]
    fn a_conversation_becomes_question_history_and_options() {
        let r = ok(json!({
            "model": "autbot",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "When does the summer market open?"},
                {"role": "assistant", "content": "At 8."},
                {"role": "user", "content": [{"type": "text", "text": "and the winter one?"}]}
            ],
            "temperature": 0.2, "max_tokens": 50, "seed": 7, "stop": "\n", "user": "u1",
            "stream": true, "stream_options": {"include_usage": true}, "n": 1, "tools": [],
            "logprobs": false
        }));
        assert_eq!(r.model, "autbot");
        assert_eq!(r.question, "and the winter one?");
        assert_eq!(r.history.len(), 3);
        assert_eq!(r.history[0].role, Role::System);
        assert!(r.stream && r.include_usage);
        assert_eq!(r.options.max_tokens, Some(50));
        assert_eq!(r.options.stop, Some(vec!["\n".to_string()]));
        assert_eq!(r.options.seed, Some(7));
    }

    #[test]
    fn only_the_latest_history_is_kept() {
        let mut messages: Vec<Value> = (0..10)
            .map(|i| json!({"role": if i % 2 == 0 {"user"} else {"assistant"}, "content": format!("m{i}")}))
            .collect();
        messages.push(json!({"role": "user", "content": "q"}));
        let r = ok(json!({"model": "m", "messages": messages}));
        let kept: Vec<&str> = r.history.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(kept, ["m7", "m8", "m9"]);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let base = |extra: Value| {
            let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        for (extra, param) in [
            (json!({"n": 2}), "n"),
            (json!({"tools": [{"type": "function"}]}), "tools"),
            (json!({"tool_choice": "auto"}), "tool_choice"),
            (json!({"logprobs": true}), "logprobs"),
            (
                json!({"response_format": {"type": "json_object"}}),
                "response_format",
            ),
            (json!({"frobnicate": 1}), "frobnicate"),
            (json!({"store": true}), "store"),
            (
                json!({"stream_options": {"include_usage": true}}),
                "stream_options",
            ),
            (json!({"temperature": 3}), "temperature"),
            (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        ] {
            let e = parse(base(extra.clone()), &LIMITS).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{extra}");
            assert_eq!(e.param().as_deref(), Some(param), "{extra}: {e}");
        }
        let image = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:,"}}]}]});
        assert!(err(image).2.contains("image_url"));
        let tool = json!({"model": "m", "messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "q"}]});
        assert_eq!(err(tool).0, 400);
    }

    #[test]
    fn the_question_is_checked_like_api_query() {
        let long = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(51)}]});
        let (status, code, _) = err(long);
        assert_eq!((status, code.as_str()), (422, "query_too_long"));
        let last_assistant = json!({"model": "m", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]});
        assert_eq!(err(last_assistant).0, 400);
        assert_eq!(err(json!({"messages": []})).1, "missing_field");
        assert_eq!(err(json!({"model": "m"})).1, "missing_field");
        assert_eq!(
            err(json!({"model": "m", "messages": []})).1,
            "invalid_value"
        );
        assert_eq!(err(json!([1])).1, "invalid_body");
    }
}
