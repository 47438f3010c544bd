//! The machine a run measured, as `BENCHMARKS.md` and `results.json` state it.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cmd::{Output, Step};

/// What the figures depend on: the CPU, how many of it, the kernel, the Python, the date.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    /// The CPU model (`/proc/cpuinfo`).
    pub(crate) cpu: String,
    /// Usable and online CPUs.
    pub(crate) cores: String,
    /// The kernel release.
    pub(crate) kernel: String,
    /// The Python interpreter's version line, or why there is none.
    pub(crate) python: String,
    /// Today's date, `YYYY-MM-DD` (UTC).
    pub(crate) date: String,
}

impl Machine {
    /// Describes this machine; `python` is the interpreter the Python column runs.
    pub(crate) fn describe(python: Option<&Path>) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
        let online = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let usable = std::thread::available_parallelism().map_or(0, |n| n.get());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".to_owned(), |k| k.trim().to_owned());
        let python = python.map_or("no Python".to_owned(), python_version);
        Machine {
            cpu,
            cores: format!("{usable} usable of {online} online CPUs"),
            kernel,
            python,
            date: utc_date(SystemTime::now()),
        }
    }
}

/// `Python 3.11.7`, or why not.
fn python_version(python: &Path) -> String {
    let mut command = Command::new(python);
    command.arg("--version");
    match Step::new("python --version", command, Duration::from_secs(60))
        .output(Output::Capture)
        .run()
    {
        Ok(lines) => lines
            .iter()
            .find(|l| !l.trim().is_empty())
            .map_or("Python (no version)".to_owned(), |l| l.trim().to_owned()),
        Err(e) => format!("Python (version unknown: {e})"),
    }
}

/// The UTC calendar date of `t`, `YYYY-MM-DD` (Howard Hinnant's civil-from-days).
pub(crate) fn utc_date(t: SystemTime) -> String {
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01");
        let day = |d: u64| UNIX_EPOCH + Duration::from_secs(d * 86_400 + 3600);
        assert_eq!(utc_date(day(11_016)), "2000-02-29");
        assert_eq!(utc_date(day(20_819)), "2027-01-01");
    }
}
