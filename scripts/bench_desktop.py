#!/usr/bin/env python3
"""Launch-to-interactive time and memory of Authdesk vs a bare Tauri window, measured in the
same run (alternating), under the caller's X display and D-Bus session.

Interactive = the page has loaded and called into Rust (Authdesk logs "served overview",
the bare window logs "bare-window: ready"). Memory = PSS summed over the app process and
all its descendants (WebKitWebProcess, WebKitNetworkProcess), 3 s after it is interactive.
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
import statistics
import subprocess
import sys
import tempfile
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
        time.sleep(3)
        procs = descendants(proc.pid)
        return interactive, pss_kib(procs), len(procs)
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
                "100k": (app, "served overview", seeded, True),
                "bare": (bare, "bare-window: ready")}
    if older:
        apps["older"] = (older, "served overview")
    results = {name: [] for name in apps}
    for warm in apps.values():  # the page cache: shared libraries, the seeded database
        run_once(*warm)
    for i in range(runs):
        for name, spec in apps.items():
            t, pss, n = run_once(*spec)
            results[name].append((t, pss))
            print(f"run {i + 1} {name:8s}: interactive after {t * 1000:6.0f} ms, PSS {pss / 1024:6.1f} MiB over {n} processes")
    med = {name: (statistics.median(t for t, _ in r), statistics.median(p for _, p in r)) for name, r in results.items()}
    for name, (t, p) in med.items():
        print(f"median {name:8s}: {t * 1000:.0f} ms to interactive, {p / 1024:.1f} MiB PSS")
    tb, pb = med["bare"]
    if seeded:
        te, pe = med["empty"]
        ts, ps = med["100k"]
        print(f"ratio 100k/empty: launch {ts / te:.2f}x, memory {ps / pe:.2f}x (goal: within 1.2x)")
        print(f"ratio empty/bare: launch {te / tb:.2f}x, memory {pe / pb:.2f}x")
        table("desktop settled with 100,000 account connectors vs an empty directory", f"{ts * 1000:.0f} ms", f"{te * 1000:.0f} ms", ts / te, 1.2)
        table("desktop memory with 100,000 account connectors vs an empty directory", f"{ps / 1024:.1f} MiB", f"{pe / 1024:.1f} MiB", ps / pe, 1.1)
    else:
        ta, pa = med["authdesk"]
        print(f"ratio authdesk/bare: launch {ta / tb:.2f}x, memory {pa / pb:.2f}x (goal: within 1.2x on both)")
        table("desktop launch to interactive vs a bare Tauri window (median)", f"{ta * 1000:.0f} ms", f"{tb * 1000:.0f} ms", ta / tb, 1.05)
        table("desktop memory (PSS, app + WebKit) vs a bare Tauri window", f"{pa / 1024:.1f} MiB", f"{pb / 1024:.1f} MiB", pa / pb, 1.05)
    if older and not seeded:
        to, po = med["older"]
        print(f"ratio older/bare: launch {to / tb:.2f}x, memory {po / pb:.2f}x")
        print(f"ratio authdesk/older: launch {ta / to:.2f}x, memory {pa / po:.2f}x (a change that grew nothing stays near 1.00x)")


def table(measure, value, baseline, ratio, goal):
    """A row of scripts/bench.sh's table (see crates/authdesk-core/benches/support/table.rs)."""
    met = "yes" if ratio <= goal else "no"
    print(f"TABLE\t{measure}\t{value}\t{baseline}\t{ratio:.2f}x\t<= {goal}x\t{met}")


if __name__ == "__main__":
    main()
