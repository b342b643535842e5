//! Process limits a socket program runs into: the open-file-descriptor limit.
//!
//! Every socket is a file descriptor. A server with 10,000 clients, or a load
//! generator opening 10,000 connections, needs more than the usual soft limit of
//! 1024; [`raise_fd_limit`] asks for more, as far as the hard limit allows.

/// Raises this process's soft limit on open file descriptors (`RLIMIT_NOFILE`) to
/// at least `wanted`, and returns the limit now in force.
///
/// Every socket is a file descriptor, and the soft limit is often 1024: the 1025th
/// `accept()` or `connect()` then fails with EMFILE ("Too many open files"). An
/// unprivileged process may raise its soft limit up to the hard limit, no further;
/// past that this returns an error saying what to change.
pub fn raise_fd_limit(wanted: u64) -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // getrlimit(2): read the soft (current) and hard (ceiling) limits.
    // SAFETY: `limit` is a valid, writable rlimit for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // rlim_t is u64 on Linux, but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    let (soft, hard) = (limit.rlim_cur as u64, limit.rlim_max as u64);
    if soft >= wanted {
        return Ok(soft);
    }
    if hard < wanted {
        return Err(std::io::Error::other(format!(
            "need {wanted} file descriptors but the hard limit (ulimit -Hn) is {hard}; \
             raise it as root (ulimit -Hn {wanted}, or LimitNOFILE= in systemd)"
        )));
    }
    limit.rlim_cur = wanted as libc::rlim_t;
    // setrlimit(2): raise the soft limit; the hard limit stays as it was.
    // SAFETY: `limit` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    log::info!("setrlimit(RLIMIT_NOFILE): soft limit {soft} -> {wanted} (hard {hard})");
    Ok(wanted)
}
