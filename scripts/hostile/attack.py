"""attack.py: running an attack and judging it from the server's own counters.

An attack is a few threads, each looping until told to stop or until its
bounds (a count and a time) run out, adding to one counter as it makes
progress: pings sent, bytes sent, connections opened. The case then:

1. waits until the counter shows the attack under way;
2. runs a fresh client (an Upgrade and one echo; push: one request and its
   answer; chat: one line from one member to another);
3. checks the attack's counter still rose after the fresh client finished:
   the client was served *during* the attack, not after it;
4. stops the attack and reads the server's stats file: its peak RSS (VmHWM)
   must stay within idle RSS + budget + slack, and the case's counters must say
   what happened (a stall close, an idle close, a refusal).

Every assert is on a counter; deadlines only stop a broken case from hanging.
"""

import threading
import time

from servers import SLACK_MIB
from wire import Deadline

# The most one connection may have queued for its peer (peak_pending): the
# servers stop reading past ~1 MiB queued; 4 MiB leaves room for one message in
# flight, and is far below what a server that keeps reading queues in seconds.
PENDING_BOUND = 4 << 20
# How long an attack may take to show progress, and the fresh client to finish.
WARM_TIMEOUT = 15
FRESH_TIMEOUT = 15
# How long the attack's counter has to rise again after the fresh client.
STILL_RUNNING_TIMEOUT = 12
# How long an attack goes on, at most, waiting for the server's defence to show
# in its counters (a write-stall close needs the stall timeout and a turn).
DEFENCE_TIMEOUT = 15


class CaseFailed(Exception):
    """The case failed; the message says why."""


class Attack:
    """Threads running `worker(attack, index)` until stopped; one shared counter."""

    def __init__(self, name, threads, worker, max_seconds=25):
        self.name = name
        self.count = 0
        self.notes = []  # what attackers saw: statuses, close codes
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.until = Deadline(max_seconds)
        self.threads = [threading.Thread(target=self._run, args=(worker, i), daemon=True)
                        for i in range(threads)]
        self.errors = []

    def _run(self, worker, index):
        try:
            worker(self, index)
        except Exception as e:  # an attacker's own failure is reported, not raised
            with self.lock:
                self.errors.append(f"{type(e).__name__}: {e}")

    def add(self, n=1):
        with self.lock:
            self.count += n

    def note(self, what):
        with self.lock:
            if len(self.notes) < 1000:
                self.notes.append(what)

    def running(self):
        return not self.stop_event.is_set() and not self.until.passed()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self, timeout):
        """Lets the attackers run to the end of their own bounds (or timeout)."""
        deadline = Deadline(timeout)
        for t in self.threads:
            t.join(timeout=deadline.left())

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=10)

    def wait_count(self, above, timeout):
        deadline = Deadline(timeout)
        while self.count <= above:
            if deadline.passed() or not any(t.is_alive() for t in self.threads):
                return False
            time.sleep(0.02)
        return True


def during(server, attack, fresh, warm=1, attempts=1):
    """Steps 1-3: the fresh client served while the attack runs. Returns a detail.

    `attempts` > 1 lets the fresh client try again at once after a refusal, as
    a real client would (half-hello: where a server evicts the oldest unfinished
    handshake, the churn may take one attempt's)."""
    attack.start()
    if not attack.wait_count(warm - 1, WARM_TIMEOUT):
        raise CaseFailed(f"the attack never got going (count {attack.count}; "
                         f"errors {attack.errors[:2]})")
    deadline = Deadline(FRESH_TIMEOUT)
    for attempt in range(1, attempts + 1):
        try:
            fresh(server, deadline)
            break
        except Exception as e:
            if attempt == attempts or deadline.passed():
                raise CaseFailed(f"a fresh client was not served during the attack "
                                 f"({attempt} attempt(s)): {e}") from e
    after = attack.count
    if not attack.wait_count(after, STILL_RUNNING_TIMEOUT):
        raise CaseFailed(f"the attack's counter stayed at {after} after the fresh client "
                         f"was served: not shown served *during* the attack (notes: "
                         f"{sorted(set(attack.notes))[:3]})")
    tries = f" (attempt {attempt} of {attempts})" if attempts > 1 else ""
    return f"fresh client served at attack count {after}{tries}"


def until_rose(server, attack, names, timeout=DEFENCE_TIMEOUT):
    """Keeps the attack running until one of the server's counters `names` rose
    (its defence acted) or the timeout; returns the last snapshot."""
    deadline = Deadline(timeout)
    while True:
        snap = server.fresh_stats()
        if any(snap.get(n, 0) > server.idle.get(n, 0) for n in names) or deadline.passed():
            return snap
        if not any(t.is_alive() for t in attack.threads):
            return snap


def memory_ok(server, snap):
    """Step 4's memory rule: VmHWM <= idle VmRSS + budget + slack."""
    limit = server.idle["vm_rss_kb"] + (server.budget_mib + SLACK_MIB) * 1024
    if snap["vm_hwm_kb"] > limit:
        raise CaseFailed(f"peak RSS {snap['vm_hwm_kb'] // 1024} MiB > idle "
                         f"{server.idle['vm_rss_kb'] // 1024} + budget {server.budget_mib} + "
                         f"slack {SLACK_MIB} MiB")
    return f"peak RSS {snap['vm_hwm_kb'] // 1024} MiB (idle {server.idle['vm_rss_kb'] // 1024})"


def rose(server, snap, *names, seen=None):
    """At least one of the counters `names` rose since the idle snapshot.

    Both models keep every counter (the threads model counts its deadlines
    where its blocking drivers meet them), so the server's own word decides
    for every server; `seen` (what the attackers saw) only explains a failure."""
    grew = {n: snap.get(n, 0) - server.idle.get(n, 0) for n in names}
    if not any(v > 0 for v in grew.values()):
        raise CaseFailed(f"none of {', '.join(names)} rose (stats: {counters(snap)}; "
                         f"the attackers saw: {seen or 'nothing'})")
    return ", ".join(f"{n} +{v}" for n, v in grew.items() if v > 0)


def budget_held(snap):
    """The memory budget counted the attack and stayed within its cap."""
    if snap["budgets"] == 0:
        raise CaseFailed("no memory budget in this server's stats: --memory-budget "
                         "counts nothing here")
    if snap["budget_peak"] > snap["budget_cap"]:
        raise CaseFailed(f"budget peak {snap['budget_peak']} > cap {snap['budget_cap']}")
    return f"budget peak {snap['budget_peak'] >> 10} KiB of {snap['budget_cap'] >> 20} MiB"


def budget_counted(snap):
    """The server's budget counted what it queued (not 0 while it held MBs)."""
    if snap["budgets"] == 0 or snap["budget_peak"] == 0:
        raise CaseFailed(f"--memory-budget counted nothing (budgets {snap['budgets']}, "
                         f"peak {snap['budget_peak']})")
    return f"budget peak {snap['budget_peak'] >> 10} KiB"


def pending_bounded(snap):
    """No one connection's queue went past PENDING_BOUND."""
    limit = PENDING_BOUND
    if snap["peak_pending"] > limit:
        raise CaseFailed(f"peak_pending {snap['peak_pending']} > bound {limit} (PENDING_BOUND)")
    return f"peak_pending {snap['peak_pending'] >> 10} KiB"


def counters(snap):
    keep = ("open", "refused", "idle_closes", "stall_closes", "peak_pending",
            "budget_peak", "vm_hwm_kb")
    return " ".join(f"{k}={snap[k]}" for k in keep)
