//! `--stats-file PATH`: a running server's own counters, rewritten as one JSON
//! object every [`INTERVAL`], for a script watching it from outside.
//!
//! `scripts/hostile.sh` attacks each server in its own process and must judge
//! the outcome from the server's side: did the write-stall deadline fire, how
//! much did the memory budget hold, how high did the process's RSS go. A log
//! line is for people; this file is for programs.
//!
//! Every [`Engine`](crate::Engine) and every [`MemoryBudget`](crate::MemoryBudget)
//! made in the process signs in here when it is created, with a weak reference
//! (signing in keeps nothing alive, and a server that ends drops out). So no
//! server crate has to pass its counters anywhere: [`start`] only reads what
//! signed in. Several engines (chat has two, `serve all` three) are summed.
//!
//! Try: `socklab serve ws --stats-file /tmp/ws.json &`, then
//! `watch -n 0.2 cat /tmp/ws.json` while `socklab bench` runs against it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use std::{fs, io, thread};

use crate::LoopStats;

/// How often the file is rewritten.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Reads one counter of an engine's [`LoopStats`].
type Counter = fn(&LoopStats) -> &AtomicUsize;

/// A budget as it signed in: what it holds now, its peak, and its cap.
struct BudgetEntry {
    used: Weak<AtomicUsize>,
    peak: Weak<AtomicUsize>,
    cap: usize,
}

/// The engines' counters that signed in (weak: a dropped engine drops out).
static ENGINES: Mutex<Vec<Weak<LoopStats>>> = Mutex::new(Vec::new());

/// The memory budgets that signed in.
static BUDGETS: Mutex<Vec<BudgetEntry>> = Mutex::new(Vec::new());

/// A program's own counter (push's dropped subscribers, chat's refilled
/// lines): its name in the file, and how to read it now.
type ProgramCounter = (&'static str, Box<dyn Fn() -> usize + Send>);

/// The programs' counters that signed in.
static PROGRAMS: Mutex<Vec<ProgramCounter>> = Mutex::new(Vec::new());

/// A program's own counter, in the stats file as `"name": read()` beside the
/// engine's: a defence that lives in the program (push dropping a subscriber
/// that does not read) is asserted from the server's own word too. `read`
/// should hold its counters weakly, so it does not keep them alive. A name
/// signed in again replaces the older one.
pub fn sign_in_counter(name: &'static str, read: impl Fn() -> usize + Send + 'static) {
    let mut programs = lock(&PROGRAMS);
    programs.retain(|(n, _)| *n != name);
    programs.push((name, Box::new(read)));
}

/// Locks a registry; a panic elsewhere while it was held leaves a usable list
/// (entries are pushed whole), so a poisoned lock is taken as is.
fn lock<T>(registry: &Mutex<T>) -> MutexGuard<'_, T> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called by `Engine::new`: its counters will be in the stats file.
pub(crate) fn sign_in_engine(stats: &Arc<LoopStats>) {
    let mut engines = lock(&ENGINES);
    engines.retain(|e| e.strong_count() > 0);
    engines.push(Arc::downgrade(stats));
}

/// Called by `MemoryBudget::new`: its use and peak will be in the stats file.
pub(crate) fn sign_in_budget(used: &Arc<AtomicUsize>, peak: &Arc<AtomicUsize>, cap: usize) {
    let mut budgets = lock(&BUDGETS);
    budgets.retain(|b| b.used.strong_count() > 0);
    budgets.push(BudgetEntry {
        used: Arc::downgrade(used),
        peak: Arc::downgrade(peak),
        cap,
    });
}

/// Starts a thread that rewrites `path` every [`INTERVAL`] until the process
/// ends. Each write goes to `PATH.tmp` first, then `rename(2)` puts it in place:
/// a reader never sees half a file.
pub fn start(path: PathBuf) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    // Written once here, so a path we cannot write is an error at start, not a
    // warning a second later.
    write_once(&path, &tmp, 0)?;
    thread::Builder::new()
        .name("stats file".into())
        .spawn(move || {
            for seq in 1.. {
                thread::sleep(INTERVAL);
                if let Err(e) = write_once(&path, &tmp, seq) {
                    log::warn!("--stats-file {}: {e}; no more updates", path.display());
                    return;
                }
            }
        })?;
    Ok(())
}

fn write_once(path: &PathBuf, tmp: &PathBuf, seq: u64) -> io::Result<()> {
    fs::write(tmp, snapshot(seq))?;
    fs::rename(tmp, path)
}

/// The JSON object: the write's sequence number, the engines' counters summed,
/// the budgets' bytes, and the process's resident memory (kB, from
/// /proc/self/status: VmRSS now, VmHWM its peak).
pub fn snapshot(seq: u64) -> String {
    let engines: Vec<Arc<LoopStats>> = lock(&ENGINES).iter().filter_map(Weak::upgrade).collect();
    let sum = |field: Counter| -> usize {
        engines
            .iter()
            .map(|s| field(s).load(Ordering::Relaxed))
            .sum()
    };
    let mut json = format!("{{\"seq\":{seq},\"engines\":{}", engines.len());
    let counters: [(&str, Counter); 8] = [
        ("open", |s| &s.open),
        ("refused", |s| &s.refused),
        ("accept_pauses", |s| &s.accept_pauses),
        ("yields", |s| &s.yields),
        ("idle_closes", |s| &s.idle_closes),
        ("stall_closes", |s| &s.stall_closes),
        ("delivered", |s| &s.delivered),
        ("peak_pending", |s| &s.peak_pending),
    ];
    for (name, field) in counters {
        let _ = write!(json, ",\"{name}\":{}", sum(field));
    }
    for (name, read) in lock(&PROGRAMS).iter() {
        let _ = write!(json, ",\"{name}\":{}", read());
    }
    let (mut budgets, mut used, mut peak, mut cap) = (0, 0, 0, 0);
    for b in lock(&BUDGETS).iter() {
        if let (Some(u), Some(p)) = (b.used.upgrade(), b.peak.upgrade()) {
            budgets += 1;
            used += u.load(Ordering::Relaxed);
            peak += p.load(Ordering::Relaxed);
            cap += b.cap;
        }
    }
    let _ = write!(
        json,
        ",\"budgets\":{budgets},\"budget_used\":{used},\"budget_peak\":{peak},\"budget_cap\":{cap}"
    );
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    for (name, key) in [("vm_rss_kb", "VmRSS:"), ("vm_hwm_kb", "VmHWM:")] {
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        match kb {
            Some(kb) => {
                let _ = write!(json, ",\"{name}\":{kb}");
            }
            None => {
                let _ = write!(json, ",\"{name}\":null");
            }
        }
    }
    json.push_str("}\n");
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryBudget;

    /// An engine and a budget made in the process show up in the snapshot
    /// (other tests may add theirs: counts are at least ours).
    #[test]
    fn engines_and_budgets_sign_in() {
        let engine = crate::Engine::new(1).expect("an engine");
        engine.stats().refused.fetch_add(1, Ordering::Relaxed);
        let budget = MemoryBudget::new(1000);
        let mut held = budget.account();
        assert_eq!(held.set(10), Ok(()));
        let json = snapshot(7);
        assert!(json.starts_with("{\"seq\":7,\"engines\":"), "{json}");
        assert!(json.ends_with("}\n"), "{json}");
        assert!(!json.contains("\"refused\":0,"), "{json}");
        assert!(!json.contains("\"budget_cap\":0,"), "{json}");
        assert!(json.contains("\"vm_hwm_kb\":"), "{json}");
    }
}
