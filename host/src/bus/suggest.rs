//! The error for an unknown command, with the close matches that make it useful.
//! Shared by the bus and the CLI so both say the same thing.

use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::error::code;

/// Up to three known command names close to `name`, best first: what the `unknown_command`
/// error suggests, and what `host:command` answers for a command it does not find.
pub fn close_matches<'a>(name: &str, known: &[&'a str]) -> Vec<&'a str> {
    let (namespace, local) = name.split_once(':').unwrap_or((name, ""));
    // Within the same namespace compare the command parts (the shared prefix would make
    // everything look close); across namespaces only near-identical names count.
    let score = |known: &str| match known.split_once(':') {
        Some((ns, known_local)) if ns == namespace => {
            let score = strsim::normalized_damerau_levenshtein(local, known_local);
            (score >= 0.6).then_some(score)
        }
        _ => {
            let score = strsim::jaro_winkler(name, known);
            (score >= 0.92).then_some(score)
        }
    };
    let mut scored: Vec<(f64, &str)> = known.iter().filter_map(|k| score(k).map(|s| (s, *k))).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Builds the `unknown_command` error for `name` given every known command name.
pub fn unknown_command<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> CommandError {
    let known: Vec<&str> = known.into_iter().collect();
    let namespace = name.split_once(':').map_or(name, |(namespace, _)| namespace);
    let suggestions = close_matches(name, &known);
    let mut namespaces: Vec<&str> = known.iter().filter_map(|k| k.split_once(':').map(|(ns, _)| ns)).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let message = if !suggestions.is_empty() {
        format!("unknown command '{name}'; did you mean {}?", suggestions.join(" or "))
    } else if !name.contains(':') {
        format!(
            "unknown command '{name}'; commands are named namespace:command (namespaces: {})",
            namespaces.join(", ")
        )
    } else if namespaces.contains(&namespace) {
        let same: Vec<&str> = known.iter().copied().filter(|k| k.starts_with(&format!("{namespace}:"))).collect();
        format!("unknown command '{name}'; module {namespace} has {}", same.join(", "))
    } else {
        format!(
            "unknown command '{name}'; no loaded module owns namespace '{namespace}' (loaded: {})",
            namespaces.join(", ")
        )
    };
    CommandError::new(code::UNKNOWN_COMMAND, message).with_details(serde_json::json!({ "suggestions": suggestions }))
}

#[cfg(test)]
mod tests {
    use super::unknown_command;

    const KNOWN: [&str; 4] = ["system:echo", "system:sleep", "scheduler:list", "scheduler:create"];

    #[test]
    fn a_typo_gets_the_close_match() {
        assert_eq!(
            unknown_command("system:ecko", KNOWN).message,
            "unknown command 'system:ecko'; did you mean system:echo?"
        );
    }

    #[test]
    fn an_unknown_namespace_lists_the_loaded_ones() {
        assert_eq!(
            unknown_command("backup:run", KNOWN).message,
            "unknown command 'backup:run'; no loaded module owns namespace 'backup' (loaded: scheduler, system)"
        );
    }

    #[test]
    fn a_far_name_in_a_known_namespace_lists_its_commands() {
        assert_eq!(
            unknown_command("system:zzzzzzzz", KNOWN).message,
            "unknown command 'system:zzzzzzzz'; module system has system:echo, system:sleep"
        );
    }
}
