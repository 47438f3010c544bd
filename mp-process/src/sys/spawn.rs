//! Starting a program with `posix_spawn`: glibc's `clone(CLONE_VM | CLONE_VFORK)`, so the child
//! borrows this process's memory until its exec instead of copying its page tables (a `fork`
//! costs ~0.1 ms here, and every page this process writes afterwards faults once).

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStringExt;

/// Starts `program` with `args` (the first is the child's `argv[0]`) and this process's
/// environment plus `extra_env` (`(name, value)`, replacing a variable of that name), as
/// `std::process::Command` does it (every signal unblocked, `SIGPIPE` back to its default),
/// keeping descriptor `inherit` open across the exec under its number. The child's pid.
pub(crate) fn spawn_keeping(
    program: &str,
    args: Vec<OsString>,
    extra_env: (&str, String),
    inherit: RawFd,
) -> io::Result<i32> {
    let nul = |e: std::ffi::NulError| io::Error::new(io::ErrorKind::InvalidInput, e);
    let program = CString::new(program).map_err(nul)?;
    let args: Vec<CString> = args
        .into_iter()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<_, _>>()
        .map_err(nul)?;
    let (name, value) = extra_env;
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k.as_encoded_bytes() != name.as_bytes())
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv)
        })
        .collect::<Result<_, _>>()
        .map_err(nul)?;
    env.push(CString::new(format!("{name}={value}")).map_err(nul)?);
    let argv = null_terminated(&args);
    let envp = null_terminated(&env);
    let mut pid: libc::pid_t = 0;
    // SAFETY: the file actions and attributes are initialized before use and destroyed after;
    // `argv` and `envp` are null-terminated arrays of pointers into `args` and `env`, which
    // outlive the call; `pid` is a valid out-pointer. A dup2 of a descriptor onto itself clears
    // its FD_CLOEXEC in the child (POSIX; glibc's posix_spawn does it).
    let rc = unsafe {
        let mut actions = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        let mut attr = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        let mut rc = libc::posix_spawn_file_actions_init(actions.as_mut_ptr());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        rc = libc::posix_spawnattr_init(attr.as_mut_ptr());
        if rc == 0 {
            rc = libc::posix_spawn_file_actions_adddup2(actions.as_mut_ptr(), inherit, inherit);
            if rc == 0 {
                rc = set_std_signal_attrs(attr.as_mut_ptr());
            }
            if rc == 0 {
                rc = libc::posix_spawn(
                    &mut pid,
                    program.as_ptr(),
                    actions.as_ptr(),
                    attr.as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                );
            }
            libc::posix_spawnattr_destroy(attr.as_mut_ptr());
        }
        libc::posix_spawn_file_actions_destroy(actions.as_mut_ptr());
        rc
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(pid)
}

/// Sets `attr` up as std's `Command` does: an empty signal mask and `SIGPIPE` at its default
/// action in the child. Returns 0 or an errno.
///
/// # Safety
/// `attr` points at an initialized `posix_spawnattr_t`.
unsafe fn set_std_signal_attrs(attr: *mut libc::posix_spawnattr_t) -> libc::c_int {
    // SAFETY: the caller's `attr` is initialized; the signal sets are initialized by
    // sigemptyset before they are read.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        let mut rc = libc::posix_spawnattr_setsigmask(attr, set.as_ptr());
        if rc != 0 {
            return rc;
        }
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        rc = libc::posix_spawnattr_setsigdefault(attr, set.as_ptr());
        if rc != 0 {
            return rc;
        }
        let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        libc::posix_spawnattr_setflags(attr, flags as libc::c_short)
    }
}

/// `strings` as the null-terminated array of pointers that exec takes (valid while `strings`
/// lives).
fn null_terminated(strings: &[CString]) -> Vec<*mut libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}
