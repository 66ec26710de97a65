//! The CLI's follow protocol (see `systemprompt_module_sdk::manifest::FollowSpec`): a
//! command whose manifest declares `follow` and whose follow argument the user set is called
//! with `"pages": true`, page after page, until a page's `next` is null.
//!
//! Items are printed as each page arrives (table: one line per item, the follow columns
//! separated by two spaces; json and yaml: one compact JSON object per line, so a reader can
//! parse line by line), then the last page's `result` as the command's ordinary output. An
//! error ends the follow like any error. Ctrl-C: the CLI stops waiting, says so with the
//! last page's `on_interrupt` (what goes on and how to see it again) and exits 130; the
//! call in flight is abandoned (the host drops it with the connection).

use std::io::Write as _;
use std::process::ExitCode;

use serde_json::Value;

use super::output::{self, Format};
use super::{EXIT_FAILED, EXIT_UNAVAILABLE, command_failed, fail, print_stdout};
use crate::config::HostConfig;
use crate::ipc::Request;
use crate::ipc::client::{self, ClientError};

/// The exit code after Ctrl-C (128 + SIGINT, the shell's convention).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// The payload key the CLI sets to ask for pages.
pub(crate) const PAGES_KEY: &str = "pages";

/// True when the user asked to follow: the spec's follow argument is `true` in the payload.
pub(crate) fn wanted(follow_arg: &str, payload: &Value) -> bool {
    payload.get(follow_arg) == Some(&Value::Bool(true))
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One item as a printed line.
pub(crate) fn item_line(item: &Value, format: Format, columns: &[String]) -> String {
    if format != Format::Table {
        return format!("{item}\n");
    }
    match item {
        Value::Object(map) if !columns.is_empty() => {
            let cells: Vec<String> = columns.iter().map(|c| cell(map.get(c).unwrap_or(&Value::Null))).collect();
            format!("{}\n", cells.join("  "))
        }
        other => format!("{}\n", cell(other)),
    }
}

/// Calls page after page and prints them (see the module docs).
pub(crate) fn run(config: &HostConfig, mut request: Request, format: Format, columns: &[String]) -> ExitCode {
    request.payload[PAGES_KEY] = Value::Bool(true);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(EXIT_UNAVAILABLE, format!("cannot start the CLI's runtime: {error}")),
    };
    let code = runtime.block_on(follow(config.clone(), request, format, columns));
    // A call still in flight after Ctrl-C must not hold the exit.
    runtime.shutdown_background();
    code
}

async fn follow(config: HostConfig, mut request: Request, format: Format, columns: &[String]) -> ExitCode {
    // One listener for the whole follow: a Ctrl-C between two pages is not lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut on_interrupt: Option<String> = None;
    loop {
        let call = {
            let config = config.clone();
            let request = request.clone();
            tokio::task::spawn_blocking(move || client::call(&config, &request))
        };
        let outcome = tokio::select! {
            joined = call => match joined {
                Ok(outcome) => outcome,
                Err(error) => return fail(EXIT_FAILED, format!("the call failed: {error}")),
            },
            _ = &mut ctrl_c => {
                let _ = std::io::stdout().flush();
                let then = on_interrupt.map(|text| format!("; {text}")).unwrap_or_default();
                return fail(EXIT_INTERRUPTED, format!("stopped waiting{then}"));
            }
        };
        let page = match outcome {
            Ok(page) => page,
            Err(ClientError::Command(error)) => return command_failed(&error, format),
            Err(ClientError::Unavailable(message)) => return fail(EXIT_UNAVAILABLE, message),
        };
        let Some(items) = page.get("items").and_then(Value::as_array) else {
            return fail(EXIT_FAILED, "the command answered something that is not a page (no items)");
        };
        let text: String = items.iter().map(|item| item_line(item, format, columns)).collect();
        if !text.is_empty() {
            print_stdout(&text);
            let _ = std::io::stdout().flush();
        }
        if let Some(text) = page.get("on_interrupt").and_then(Value::as_str) {
            on_interrupt = Some(text.to_owned());
        }
        match page.get("next") {
            Some(next) if next.is_object() => request.payload = next.clone(),
            _ => {
                if let Some(result) = page.get("result").filter(|result| !result.is_null()) {
                    let text = if format == Format::Table {
                        output::render_columns(result, format, &[])
                    } else {
                        format!("{result}\n")
                    };
                    print_stdout(&text);
                }
                return ExitCode::SUCCESS;
            }
        }
        request.payload[PAGES_KEY] = Value::Bool(true);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_table_item_is_one_line_of_its_columns_and_json_is_one_object_per_line() {
        let item = json!({"at": "2027-01-01T00:00:00Z", "stream": "stdout", "line": "hello", "id": 3});
        let columns = ["at".to_owned(), "stream".to_owned(), "line".to_owned()];
        assert_eq!(item_line(&item, Format::Table, &columns), "2027-01-01T00:00:00Z  stdout  hello\n");
        assert_eq!(item_line(&item, Format::Json, &columns), format!("{item}\n"));
        assert_eq!(item_line(&json!("plain"), Format::Table, &[]), "plain\n");
    }

    #[test]
    fn following_is_wanted_only_when_the_follow_argument_is_true() {
        assert!(wanted("follow", &json!({"follow": true})));
        assert!(!wanted("follow", &json!({"follow": false})));
        assert!(!wanted("wait", &json!({"follow": true})));
    }
}
