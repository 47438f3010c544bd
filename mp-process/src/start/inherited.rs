//! The parent's process-wide settings that a fresh child takes over before its target runs:
//! what of Python's preparation data applies here. A fork child has them already, in its copy
//! of the parent's memory; a fresh child would otherwise have the fork server's, or none.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::authkey::{self, AuthKey};
use crate::start::{self, StartMethod};

/// The settings, as sent in [`super::wire::ChildStart`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Inherited {
    /// The parent's working directory at `start()`; `None` if it could not be read (it was
    /// removed, say): the child then stays where it starts (spawn: the same directory).
    working_dir: Option<PathBuf>,
    /// The start method the parent set with `set_start_method`, if it did.
    start_method: Option<StartMethod>,
    /// The parent's authkey (Python's `current_process().authkey`, inherited).
    authkey: AuthKey,
}

impl Inherited {
    /// This process's settings, now.
    pub(crate) fn now() -> Inherited {
        Inherited {
            working_dir: std::env::current_dir().ok(),
            start_method: start::chosen_start_method(),
            authkey: authkey::authkey().clone(),
        }
    }

    /// Makes them this process's: in a fresh child, before its target runs. Failing to enter
    /// the working directory is a start-up failure (the target would run in the wrong place).
    pub(crate) fn adopt(&self) -> Result<(), String> {
        if let Some(dir) = &self.working_dir {
            std::env::set_current_dir(dir).map_err(|e| {
                format!(
                    "entering the parent's working directory {}: {e}",
                    dir.display()
                )
            })?;
        }
        if let Some(method) = self.start_method {
            start::inherit_start_method(method);
        }
        authkey::set_authkey(&self.authkey.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Inherited;

    #[test]
    fn a_working_directory_that_cannot_be_entered_is_a_clear_start_up_failure() {
        let inherited = Inherited {
            working_dir: Some("/nonexistent/mp-process-test".into()),
            start_method: None,
            authkey: crate::authkey::AuthKey(vec![1; 32]),
        };
        let why = inherited.adopt().unwrap_err();
        assert!(
            why.contains("working directory /nonexistent/mp-process-test"),
            "{why}"
        );
    }
}
