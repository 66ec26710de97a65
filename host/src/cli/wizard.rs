//! The interactive form of a module command: run with no arguments on a terminal, a
//! command whose manifest says `prompt: true` asks for its arguments one by one — required
//! ones (and those marked `ask`) first, then the others if the user wants them — checking each answer against the
//! argument's type and allowed values, and says the rule when an answer does not fit.
//!
//! Input and output are injected so the dialogue is tested without a terminal.

use std::io::{BufRead, Write};

use serde_json::{Map, Value};
use systemprompt_module_sdk::manifest::{ArgSpec, ArgType, CommandSpec};

/// Parses one answer for `arg`; `Ok(None)` means "left empty".
fn parse_answer(arg: &ArgSpec, answer: &str) -> Result<Option<Value>, String> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Ok(None);
    }
    let value = match arg.ty {
        ArgType::String => {
            if !arg.values.is_empty() && !arg.values.iter().any(|v| v == answer) {
                return Err(format!("must be one of {}", arg.values.join(", ")));
            }
            Value::String(answer.to_owned())
        }
        ArgType::Integer => {
            Value::from(answer.parse::<i64>().map_err(|_| format!("must be a whole number, got '{answer}'"))?)
        }
        ArgType::Number => Value::from(answer.parse::<f64>().map_err(|_| format!("must be a number, got '{answer}'"))?),
        ArgType::Boolean => match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Value::Bool(true),
            "n" | "no" | "false" => Value::Bool(false),
            _ => return Err(format!("answer y or n, got '{answer}'")),
        },
        ArgType::Json => serde_json::from_str(answer).map_err(|error| format!("must be valid JSON: {error}"))?,
    };
    Ok(Some(value))
}

fn question(arg: &ArgSpec) -> String {
    let mut text = arg.flag();
    if !arg.help.is_empty() {
        text.push_str(&format!(" ({})", arg.help));
    }
    if !arg.values.is_empty() {
        text.push_str(&format!(" [{}]", arg.values.join("/")));
    } else if arg.ty == ArgType::Boolean {
        text.push_str(" [y/N]");
    }
    if let Some(default) = &arg.default {
        text.push_str(&format!(" default {default}"));
    }
    text.push_str(": ");
    text
}

fn ask(arg: &ArgSpec, input: &mut dyn BufRead, output: &mut dyn Write) -> Result<Option<Value>, String> {
    loop {
        let _ = write!(output, "{}", question(arg));
        let _ = output.flush();
        let mut line = String::new();
        let read = input.read_line(&mut line).map_err(|error| error.to_string())?;
        if read == 0 {
            return Err("input ended before the form was complete; nothing was sent".to_owned());
        }
        match parse_answer(arg, &line) {
            Ok(None) if arg.required => {
                let _ = writeln!(output, "  {} is required", arg.flag());
            }
            Ok(answer) => return Ok(answer),
            Err(rule) => {
                let _ = writeln!(output, "  {} {rule}", arg.flag());
            }
        }
    }
}

/// Asks for `spec`'s arguments and returns the payload (manifest defaults fill the gaps).
pub(crate) fn run(spec: &CommandSpec, input: &mut dyn BufRead, output: &mut dyn Write) -> Result<Value, String> {
    let _ = writeln!(output, "{} Press Enter to skip an optional field.", spec.summary);
    let mut payload = Map::new();
    for arg in spec.args.iter().filter(|a| a.required || a.ask) {
        if let Some(value) = ask(arg, input, output)? {
            payload.insert(arg.name.clone(), value);
        }
    }
    let optional: Vec<&ArgSpec> =
        spec.args.iter().filter(|a| !a.required && !a.ask && spec.confirm.as_ref() != Some(&a.name)).collect();
    if !optional.is_empty() {
        let more = ArgSpec {
            name: "more_options".to_owned(),
            ty: ArgType::Boolean,
            help: format!("set {} too", optional.iter().map(|a| a.flag()).collect::<Vec<_>>().join(", ")),
            required: false,
            default: None,
            values: Vec::new(),
            short: None,
            ask: false,
        };
        if ask(&more, input, output)? == Some(Value::Bool(true)) {
            for arg in optional {
                if let Some(value) = ask(arg, input, output)? {
                    payload.insert(arg.name.clone(), value);
                }
            }
        }
    }
    super::module_command::fill_defaults(spec, &mut payload);
    Ok(Value::Object(payload))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use systemprompt_module_sdk::manifest::Manifest;

    const MANIFEST: &str = "
name: demo
version: 0.1.0
library: demo
commands:
  - name: create
    summary: Creates a task.
    prompt: true
    args:
      - { name: name, type: string, required: true, help: A unique name }
      - { name: schedule, type: string, required: true, help: When it runs }
      - { name: retries, type: integer, default: 3 }
      - { name: overlap, type: string, values: [skip, queue, allow] }
";

    fn converse(answers: &str) -> (Result<serde_json::Value, String>, String) {
        let manifest = Manifest::parse("m", MANIFEST).unwrap();
        let mut input = std::io::Cursor::new(answers.as_bytes().to_vec());
        let mut output = Vec::new();
        let result = super::run(&manifest.commands[0], &mut input, &mut output);
        (result, String::from_utf8(output).unwrap())
    }

    #[test]
    fn required_fields_are_asked_until_answered_and_defaults_fill_the_rest() {
        let (payload, dialogue) = converse("\nbackup\ndaily 02:30\nn\n");
        assert_eq!(payload.unwrap(), json!({"name": "backup", "schedule": "daily 02:30", "retries": 3}));
        assert!(dialogue.contains("name is required"), "{dialogue}");
    }

    #[test]
    fn optional_fields_are_checked_against_their_type_and_values() {
        let (payload, dialogue) = converse("b\n5m\ny\nthree\n4\nsometimes\nqueue\n");
        assert_eq!(payload.unwrap(), json!({"name": "b", "schedule": "5m", "retries": 4, "overlap": "queue"}));
        assert!(dialogue.contains("retries must be a whole number, got 'three'"), "{dialogue}");
        assert!(dialogue.contains("overlap must be one of skip, queue, allow"), "{dialogue}");
    }

    #[test]
    fn input_that_ends_early_sends_nothing() {
        let (payload, _) = converse("b\n");
        assert_eq!(payload.unwrap_err(), "input ended before the form was complete; nothing was sent");
    }
}
