//! The system module's config, read from the `config:` of its `module.yaml` merged with
//! the host config's overrides. It has no settings; unknown keys are refused, so a typo in
//! an override is an error, not silence.

use serde::Deserialize;

/// The module's config: it has no settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {}
