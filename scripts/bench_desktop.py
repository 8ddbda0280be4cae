#!/usr/bin/env python3
"""Launch-to-interactive time and memory of Authdesk vs a bare Tauri window, measured in the
same run (alternating), under the caller's X display and D-Bus session.

Interactive = the page has loaded and called into Rust (Authdesk logs "served overview",
the bare window logs "bare-window: ready"). Settled = from then on, the first moment after
which the app and all its descendants stay under 10% of a core for 0.5 s (what a user waits
for). Memory = PSS summed over the app process and all its descendants (WebKitWebProcess,
WebKitNetworkProcess), 3 s after it is interactive (or once settled, if later).
Prints each run, the medians and the ratios.

With SEEDED (a directory holding data/ and vault.key, made by
`cargo bench -p authdesk-cli --bench scale -- --seed SEEDED`), Authdesk on that data
directory is measured too, next to Authdesk on an empty one (both with a key file).

With --against OLDER_APP (another build of Authdesk, say the commit before a change), that
build is measured too, alternately, and the ratios this/older are printed.

Usage: bench_desktop.py AUTHDESK_APP BARE_APP [RUNS] [SEEDED] [--against OLDER_APP]
"""
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def pss_by_process(pids):
    """PSS (KiB) per process name: where the memory is."""
    out = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        out[name] = out.get(name, 0) + pss_kib([p])
    return out


def cpu_seconds(pids):
    """CPU time (user + system) used so far by these processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            fields = stat[stat.rfind(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / ticks


def settle(pid, t0, since, quiet=0.5, share=0.1, limit=60):
    """Seconds from t0 until the process tree stays under `share` of a core for `quiet`
    seconds, looking from `since` (the window is up): what a user waits for."""
    samples = []
    while time.monotonic() - t0 < limit:
        now = time.monotonic()
        samples.append((now, cpu_seconds(descendants(pid))))
        # The first sample at least `quiet` before now.
        old = [s for s in samples if s[0] <= now - quiet]
        if old and old[-1][0] >= since and samples[-1][1] - old[-1][1] < share * quiet:
            return old[-1][0] - t0
        time.sleep(0.05)
    raise RuntimeError("never settled")


def run_once(binary, marker, seeded=None, key_file=False):
    home = tempfile.mkdtemp(prefix="bench-home-")
    env = dict(os.environ, HOME=home, AUTHDESK_DATA_DIR=os.path.join(seeded or home, "data"),
               AUTHDESK_LISTEN="127.0.0.1:0", AUTHDESK_LOG="info")
    if key_file:
        env["AUTHDESK_VAULT_KEY_FILE"] = os.path.join(seeded or home, "vault.key")
    t0 = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        interactive = None
        deadline = t0 + 60
        for line in proc.stderr:
            if marker in line:
                interactive = time.monotonic() - t0
                break
            if time.monotonic() > deadline:
                break
        if interactive is None:
            raise RuntimeError(f"{binary} never became interactive")
        # stderr must keep draining (a full pipe would stall the app, not settle it).
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        settled = settle(proc.pid, t0, t0 + interactive)
        time.sleep(max(0.0, 3 - (time.monotonic() - t0 - interactive)))
        procs = descendants(proc.pid)
        return interactive, settled, pss_kib(procs), len(procs), pss_by_process(procs)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


def main():
    args = sys.argv[1:]
    older = None
    if "--against" in args:
        at = args.index("--against")
        older = args[at + 1]
        del args[at:at + 2]
    app, bare = args[0], args[1]
    runs = int(args[2]) if len(args) > 2 else 5
    seeded = args[3] if len(args) > 3 else None
    apps = {"authdesk": (app, "served overview"), "bare": (bare, "bare-window: ready")}
    if seeded:
        apps = {"empty": (app, "served overview", None, True),
                "seeded": (app, "served overview", seeded, True),
                "bare": (bare, "bare-window: ready")}
    if older:
        apps["older"] = (older, "served overview")
    results = {name: [] for name in apps}
    breakdown = {}
    for warm in apps.values():  # the page cache: shared libraries, the seeded database
        run_once(*warm)
    for i in range(runs):
        for name, spec in apps.items():
            t, settled, pss, n, parts = run_once(*spec)
            results[name].append((t, pss, settled))
            breakdown.setdefault(name, []).append(parts)
            print(f"run {i + 1} {name:8s}: interactive after {t * 1000:6.0f} ms, settled after {settled * 1000:6.0f} ms, PSS {pss / 1024:6.1f} MiB over {n} processes")
    med = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
                  statistics.median(r[2] for r in rs)) for name, rs in results.items()}
    for name, (t, p, st) in med.items():
        print(f"median {name:8s}: {t * 1000:.0f} ms to interactive, {st * 1000:.0f} ms to settled, {p / 1024:.1f} MiB PSS")
        names = sorted({k for parts in breakdown[name] for k in parts})
        where = ", ".join(f"{k} {statistics.median(parts.get(k, 0) for parts in breakdown[name]) / 1024:.1f}" for k in names)
        print(f"         {'':8s}  PSS by process (MiB, median): {where}")
    tb, pb, _ = med["bare"]
    if seeded:
        _, pe, se = med["empty"]
        _, ps, ss = med["seeded"]
        n = seeded_count(seeded)
        print(f"ratio seeded/empty: settled {ss / se:.2f}x, memory {ps / pe:.2f}x (goals: 1.2x, 1.1x)")
        table(f"desktop settled with {n} account connectors vs an empty directory", f"{ss * 1000:.0f} ms", f"{se * 1000:.0f} ms", ss / se, 1.2)
        table(f"desktop memory with {n} account connectors vs an empty directory", f"{ps / 1024:.1f} MiB", f"{pe / 1024:.1f} MiB", ps / pe, 1.1)
    else:
        ta, pa, _ = med["authdesk"]
        print(f"ratio authdesk/bare: launch {ta / tb:.2f}x, memory {pa / pb:.2f}x (goal: within 1.2x on both)")
        table("desktop launch to interactive vs a bare Tauri window (median)", f"{ta * 1000:.0f} ms", f"{tb * 1000:.0f} ms", ta / tb, 1.05)
        table("desktop memory (PSS, app + WebKit) vs a bare Tauri window", f"{pa / 1024:.1f} MiB", f"{pb / 1024:.1f} MiB", pa / pb, 1.05)
    if older and not seeded:
        to, po, _ = med["older"]
        print(f"ratio older/bare: launch {to / tb:.2f}x, memory {po / pb:.2f}x")
        print(f"ratio authdesk/older: launch {ta / to:.2f}x, memory {pa / po:.2f}x (a change that grew nothing stays near 1.00x)")


def seeded_count(seeded):
    """How many account connectors the seeded directory holds, as "1,000,000"."""
    db = sqlite3.connect(f"file:{os.path.join(seeded, 'data', 'authdesk.db')}?mode=ro", uri=True)
    try:
        return f"{db.execute('SELECT count(*) FROM account_connectors').fetchone()[0]:,}"
    finally:
        db.close()


def table(measure, value, baseline, ratio, goal):
    """A row of scripts/bench.sh's table (see crates/authdesk-core/benches/support/table.rs)."""
    met = "yes" if ratio <= goal else "no"
    print(f"TABLE\t{measure}\t{value}\t{baseline}\t{ratio:.2f}x\t<= {goal}x\t{met}")


if __name__ == "__main__":
    main()
