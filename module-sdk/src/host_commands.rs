//! Typed requests and responses of the host's own `host:*` commands, which a module calls
//! with [`Host::call`](crate::Host::call) like any other command.
//!
//! The SDK owns these types (and only these) because the host is not a module: it has no
//! API crate of its own. A module's commands are typed in that module's `api/` crate, never
//! here, so a new module never edits the SDK.

use serde::{Deserialize, Serialize};

use crate::module::Command;

/// `host:command --name <namespace:command>`: whether the bus routes a command, who answers
/// it, and, when nothing does, the close matches the bus would suggest.
///
/// A command of a loaded module is found whatever the module's state (a failed module's
/// commands are routed and answer `unavailable`), as `host:modules` lists them.
pub enum LookUpCommand {}

/// Parameters of [`LookUpCommand`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookUpCommandParams {
    /// The full command name, e.g. `system:echo`.
    pub name: String,
}

/// What [`LookUpCommand`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandLookup {
    /// Whether the bus routes the command.
    pub found: bool,
    /// Who answers it: the owning module's name, or `host` for the host's own commands;
    /// `null` when it is not found.
    pub owner: Option<String>,
    /// When it is not found: up to three close matches, best first (the ones the bus's
    /// `unknown_command` error names); empty otherwise.
    pub suggestions: Vec<String>,
}

impl CommandLookup {
    /// The owner of the host's own commands.
    pub const HOST: &'static str = "host";

    /// Whether a module (not the host itself) answers the command.
    pub fn is_module_command(&self) -> bool {
        self.found && self.owner.as_deref().is_some_and(|owner| owner != CommandLookup::HOST)
    }
}

impl Command for LookUpCommand {
    const NAME: &'static str = "host:command";
    type Params = LookUpCommandParams;
    type Output = CommandLookup;
}

/// `host:modules`: every loaded module, whatever its state, with its commands.
pub enum ListModules {}

/// Parameters of [`ListModules`] (none).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListModulesParams {}

/// One loaded module, as [`ListModules`] reports it. Field order is the JSON order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Its name (the namespace of its commands).
    pub name: String,
    /// Its `module.yaml` version.
    pub version: String,
    /// `loaded`, `initialised`, `started`, `stopped` or `failed`.
    pub state: String,
    /// Its `module.yaml` description.
    pub description: String,
    /// The path of its library.
    pub library: String,
    /// Its commands' full names (`namespace:command`), in manifest order.
    pub commands: Vec<String>,
}

impl Command for ListModules {
    const NAME: &'static str = "host:modules";
    type Params = ListModulesParams;
    type Output = Vec<ModuleInfo>;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::CommandLookup;

    #[test]
    fn a_lookup_is_a_module_command_only_when_found_and_not_owned_by_the_host() {
        let lookup = |found, owner: Option<&str>| CommandLookup {
            found,
            owner: owner.map(str::to_owned),
            suggestions: Vec::new(),
        };
        assert!(lookup(true, Some("system")).is_module_command());
        assert!(!lookup(true, Some("host")).is_module_command());
        assert!(!lookup(false, None).is_module_command());
    }

    #[test]
    fn a_lookup_reads_back_from_its_json() {
        let json = json!({"found": false, "owner": null, "suggestions": ["system:echo"]});
        let lookup: CommandLookup = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(lookup.suggestions, ["system:echo"]);
        assert_eq!(serde_json::to_value(&lookup).unwrap(), json);
    }
}
