//! Start-up validation and secret handling.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::server::ServerBuilder;

fn refused(b: ServerBuilder, key: &str) {
    let (status, _out, err) = b.run(&["serve"]);
    assert!(!status.success(), "the server must refuse to start");
    assert!(err.contains(key), "the error must name `{key}`:\n{err}");
}

#[test]
fn bad_configurations_are_refused_naming_the_key() {
    refused(
        ServerBuilder::new()
            .env("AUTBOT_SECURITY__ENVIRONMENT", "production")
            .env("AUTBOT_SECURITY__ADMIN_API_KEYS", r#"["k"]"#)
            .env("AUTBOT_SECURITY__ALLOWED_ORIGINS", r#"["*"]"#),
        "security.allowed_origins",
    );
    refused(
        ServerBuilder::new().env("AUTBOT_SECURITY__ENVIRONMENT", "production"),
        "security.admin_api_keys",
    );
    refused(
        ServerBuilder::new().env("AUTBOT_SERVER__PORT", "70000"),
        "server.port",
    );
    refused(
        ServerBuilder::new().env("AUTBOT_LLM__PROVIDER", "openai"),
        "llm.api_key",
    );
    refused(
        ServerBuilder::new().env("AUTBOT_SERVER__PORT", "\"eighty\""),
        "server.port",
    );
    refused(
        ServerBuilder::new().env("AUTBOT_INDEX__CHUNK_OVERLAP", "5000"),
        "index.chunk_overlap",
    );
    // Several problems: one line each.
    let (status, _, err) = ServerBuilder::new()
        .env("AUTBOT_SERVER__PORT", "70000")
        .env("AUTBOT_INDEX__TOP_K", "0")
        .run(&["check-config"]);
    assert!(!status.success());
    assert!(
        err.lines()
            .filter(|l| l.trim_start().starts_with("- "))
            .count()
            >= 2,
        "{err}"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_check_config_or_logs() {
    let fake = FakeOpenAi::start().await;
    let admin = "admin-key-Zq83hd";
    let openai = "sk-test-Pq92kfL";
    let builder = || {
        ServerBuilder::new()
            .env("AUTBOT_SECURITY__ADMIN_API_KEYS", format!("[\"{admin}\"]"))
            .env("OPENAI_API_KEY", openai)
            .env("AUTBOT_LLM__PROVIDER", "openai")
            .env("AUTBOT_LLM__BASE_URL", fake.base_url())
            .env("AUTBOT_OBSERVABILITY__LOG_LEVEL", "debug")
    };
    let (status, out, err) = builder().run(&["check-config"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("[redacted]"), "{out}");
    assert!(out.contains("provider = \"openai\""), "{out}");
    assert!(!out.contains(admin) && !out.contains(openai), "{out}");
    assert!(!err.contains(admin) && !err.contains(openai));

    let s = builder().start().ready().await;
    let (status, _) = s.ask("What is AutBot?").await;
    assert_eq!(status, 200);
    let r = crate::support::client()
        .get(s.url("/admin/plugins"))
        .header("x-api-key", admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        fake.requests("chat")[0].authorization.as_deref(),
        Some(&*format!("Bearer {openai}"))
    );
    let logs = s.logs_flushed().await;
    assert!(logs.contains("request completed"));
    assert!(!logs.contains(admin), "admin key leaked into the logs");
    assert!(!logs.contains(openai), "OpenAI key leaked into the logs");
}
