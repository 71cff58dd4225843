//! The server's CPU time from `/proc`, and finding the server's process by
//! the UDP port it listens on (Linux only; elsewhere pass `--server-pid`).

use std::path::Path;

/// Clock ticks per second for `/proc/*/stat` times: `getconf CLK_TCK`,
/// else the usual 100.
pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// utime + stime of a process (or a task) in clock ticks.
pub fn cpu_ticks(stat_path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(stat_path).ok()?;
    parse_stat(&text)
}

/// utime + stime from the text of a `stat` file. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After ')': state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The `stat` path of the process.
pub fn process_stat(pid: u32) -> std::path::PathBuf {
    Path::new("/proc").join(pid.to_string()).join("stat")
}

/// The `stat` paths of the process's threads called `name` or `name-<i>`
/// (the server's media workers: `media`, `media-1`, ...).
pub fn thread_stats(pid: u32, name: &str) -> Vec<std::path::PathBuf> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let Ok(entries) = std::fs::read_dir(tasks) else {
        return Vec::new();
    };
    let worker = |comm: &str| {
        comm == name
            || comm
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
    };
    entries
        .flatten()
        .filter(|entry| {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            worker(comm.trim_end())
        })
        .map(|entry| entry.path().join("stat"))
        .collect()
}

/// Resident memory of a process, KiB (`VmRSS` in `/proc/{pid}/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let path = Path::new("/proc").join(pid.to_string()).join("status");
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The process that has a UDP socket bound to local port `port`.
pub fn pid_of_udp_port(port: u16) -> Result<u32, String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(udp_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return Err(format!("no UDP socket on port {port} in /proc/net/udp"));
    }
    let own = std::process::id();
    let procs = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in procs.flatten() {
        // Processes come and go while we look: skip whatever fails.
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            let inode = target
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok());
            if inode.is_some_and(|i| inodes.contains(&i)) {
                return Ok(pid);
            }
        }
    }
    Err(format!(
        "UDP port {port} is open, but no process we may inspect holds it \
         (pass --server-pid)"
    ))
}

/// Inodes of the sockets bound to local `port` in a `/proc/net/udp{,6}`
/// table.
fn udp_inodes(table: &str, port: u16) -> Vec<u64> {
    udp_rows(table)
        .filter(|r| r.port == port && r.inode != 0)
        .map(|r| r.inode)
        .collect()
}

/// Datagrams dropped so far (receive buffer full) by the UDP sockets bound
/// to each of `ports`, summed; `None` without `/proc/net/udp`.
pub fn udp_drops(ports: &[u16]) -> Option<u64> {
    let wanted: std::collections::HashSet<u16> = ports.iter().copied().collect();
    let mut total = None;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        let sum: u64 = udp_rows(&text)
            .filter(|r| wanted.contains(&r.port))
            .map(|r| r.drops)
            .sum();
        *total.get_or_insert(0) += sum;
    }
    total
}

struct UdpRow {
    port: u16,
    inode: u64,
    drops: u64,
}

/// Rows of a `/proc/net/udp{,6}` table: `sl local_address rem_address st
/// tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer
/// drops`, addresses as `HEXIP:HEXPORT`.
fn udp_rows(table: &str) -> impl Iterator<Item = UdpRow> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let (_, port) = f.get(1)?.rsplit_once(':')?;
        Some(UdpRow {
            port: u16::from_str_radix(port, 16).ok()?,
            inode: f.get(9)?.parse().ok()?,
            drops: f.get(12).and_then(|d| d.parse().ok()).unwrap_or(0),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_name() {
        let line = "4242 (media (x) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 3 0 1000 123456 789 18446744073709551615";
        assert_eq!(parse_stat(line), Some(325));
    }

    #[test]
    fn udp_table() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  512: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81234 2 0000000000000000 17\n\
  513: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81235 2 0000000000000000 0\n";
        assert_eq!(udp_inodes(table, 40000), vec![81234]);
        assert_eq!(udp_inodes(table, 1), Vec::<u64>::new());
        let drops: Vec<u64> = udp_rows(table).map(|r| r.drops).collect();
        assert_eq!(drops, [17, 0]);
    }

    #[test]
    fn finds_a_bound_socket_in_the_table() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
        if !table.is_empty() {
            assert_eq!(udp_inodes(&table, port).len(), 1);
        }
    }
}
