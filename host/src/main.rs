//! The `autbot` binary.

use autbot::cli::{Cli, Command, ModelCommand, PluginCommand};
use autbot::config::{self, Checked, Config};
use autbot::indexer::IndexSettings;
use autbot::{observability, plugin_tools, serve};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Plugin(PluginCommand::Inspect { file }) => {
            // The configuration, when there is one, tells what the file is granted.
            let config = load_config(cli.config.as_deref()).ok();
            let plugins = config.as_ref().map(|c| &c.plugins);
            println!("{}", autbot::plugins::inspect::inspect(&file, plugins)?);
            Ok(())
        }
        Command::Plugin(PluginCommand::Test {
            file,
            hook,
            input,
            expect,
            cases,
            docs,
            llm_reply,
            grant,
            settings,
            deadline_ms,
            memory_mb,
        }) => {
            let setup = plugin_tools::test_setup(
                file,
                hook,
                docs,
                llm_reply,
                grant,
                &settings,
                deadline_ms,
                memory_mb,
            )?;
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(plugin_tools::test(&setup, input, expect, cases))
        }
        Command::Plugin(PluginCommand::Keygen { out }) => {
            let public = plugin_tools::keygen(&out)?;
            println!("secret key written to {} (keep it secret)", out.display());
            println!("public key (add it to plugins.trusted_keys): {public}");
            Ok(())
        }
        Command::Plugin(PluginCommand::Sign { key, file }) => {
            let sig = plugin_tools::sign(&key, &file)?;
            println!("signed {} -> {}", file.display(), sig.display());
            Ok(())
        }
        Command::Plugin(PluginCommand::Verify { key, file }) => {
            let keys = if key.is_empty() {
                load_config(cli.config.as_deref())?.plugins.trusted_keys
            } else {
                key
            };
            let signer = plugin_tools::verify(&keys, &file)?;
            println!("{}: good signature by {signer}", file.display());
            Ok(())
        }
        Command::Plugin(PluginCommand::New {
            hook,
            name,
            dir,
            lang,
        }) => {
            let path = plugin_tools::polyglot::scaffold(lang, &hook, &name, &dir)?;
            println!("created {}", path.display());
            Ok(())
        }
        Command::Plugin(PluginCommand::Build { dir, out }) => {
            let out = match out {
                Some(o) => o,
                None => load_config(cli.config.as_deref())?.plugins.dir,
            };
            for file in plugin_tools::build(&dir, &out)? {
                println!("built {}", file.display());
            }
            Ok(())
        }
        Command::Model(ModelCommand::Pull {
            name,
            revision,
            dir,
        }) => {
            let dir = match dir {
                Some(d) => d,
                None => load_config(cli.config.as_deref())?.embeddings.model_dir,
            };
            let target = autbot::embeddings::neural::pull::resolve(&name, revision.as_deref())?;
            println!(
                "downloading {}@{} into {}",
                target.repo,
                target.revision,
                dir.display()
            );
            let report = autbot::embeddings::neural::pull::pull(&target, &dir, None, true)?;
            for (file, size, sha) in &report.files {
                println!("  {file}  {size} bytes  sha256 {sha}");
            }
            println!(
                "installed {} ({} dimensions); use it with embeddings.provider = \"neural\" and embeddings.model_dir = \"{}\"",
                report.dir.display(),
                report.dimensions,
                report.dir.display()
            );
            Ok(())
        }
        Command::CheckConfig => {
            let config = load_valid_config(cli.config.as_deref())?.config;
            // Secrets are serialised as "[redacted]"; URLs (llm/embeddings base_url,
            // redis.url, plugin settings) with their credentials as "***".
            let text = toml::to_string_pretty(&config).map_err(|e| e.to_string())?;
            println!("# configuration is valid; effective values (secrets redacted):\n{text}");
            Ok(())
        }
        Command::Index { data } => {
            let mut config = load_valid_config(cli.config.as_deref())?.config;
            if let Some(d) = data {
                config.index.data_dir = d;
            }
            let _logs = observability::init(&config.observability);
            runtime()?.block_on(index(config))
        }
        Command::Eval {
            questions,
            data,
            json,
            top_k,
            retriever,
            details,
        } => {
            let config = load_valid_config(cli.config.as_deref())?;
            let options = autbot::eval::Options {
                questions,
                data,
                top_k,
                retriever,
            };
            let report = runtime()?.block_on(autbot::eval::run(config, &options))?;
            if json {
                let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                println!("{text}");
            } else {
                print!("{}", report.table(details));
            }
            Ok(())
        }
        Command::Serve => {
            let checked = load_valid_config(cli.config.as_deref())?;
            let _logs = observability::init(&checked.config.observability);
            let sentry = observability::sentry::init(&checked.config)?;
            let result = runtime()?
                .block_on(serve::serve(checked))
                .map_err(|e| format!("{e:#}"));
            // Send what is pending before exiting.
            sentry.flush(std::time::Duration::from_secs(3));
            result
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn load_config(path: Option<&Path>) -> Result<Config, String> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("autbot.toml"), false),
    };
    config::load(&path, required).map_err(|problems| report(&problems))
}

fn load_valid_config(path: Option<&Path>) -> Result<Checked, String> {
    config::check(load_config(path)?).map_err(|problems| report(&problems))
}

/// One line per problem. A problem may quote a value (a URL with a password in it):
/// credentials are masked.
fn report(problems: &[String]) -> String {
    let mut out = String::from("invalid configuration:");
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&config::redacted_text(p));
    }
    out
}

async fn index(config: Config) -> Result<(), String> {
    let embedder = autbot::embeddings::from_config(&config.embeddings)?;
    let settings = IndexSettings::from_config(&config);
    let (_, report) = autbot::indexer::build(&settings, embedder.as_ref(), true)
        .await
        .map_err(|e| e.to_string())?;
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
    }
    println!(
        "indexed {} documents into {} chunks ({} embedded, {} from cache, {} skipped) in {:.2} s -> {}",
        report.documents,
        report.chunks,
        report.embedded,
        report.reused,
        report.skipped.len(),
        report.seconds,
        settings.paths.index_dir.display()
    );
    Ok(())
}
