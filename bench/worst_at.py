#!/usr/bin/env python3
"""Where the load's slowest operations fell: for each `slow phase=during`
line of a loadgen output (LOADGEN_SLOWEST), the migration stage and the
throttle state at that moment, read from a ghostwire log written with
GHOSTWIRE_LOG=warn,ghostwire::migration::runner=debug,ghostwire::throttle=info.

    worst_at.py LOADGEN_OUTPUT GHOSTWIRE_LOG N STARTED

STARTED (Unix seconds): when the tool started; stages logged before it
belong to earlier runs and are ignored.
"""
import re
import sys
from datetime import datetime, timezone

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def events(log):
    out = []
    for line in open(log, errors="replace"):
        line = ANSI.sub("", line)
        m = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+)Z", line)
        if not m:
            continue
        at = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc).timestamp()
        s = re.search(r'stage="([^"]*)"', line)
        if s:
            out.append((at, "stage", s.group(1)))
        elif "throttling migrations" in line:
            out.append((at, "throttle", "held"))
        elif "throttle lifted" in line:
            out.append((at, "throttle", "free"))
    return out


def main():
    load, log = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3])
    started = float(sys.argv[4])
    evs = [e for e in events(log) if e[0] >= started]
    if not any(kind == "stage" for _, kind, _ in evs):
        return
    slow = []
    for line in open(load):
        m = re.match(r"slow phase=during ms=([\d.]+) at=([\d.]+)", line)
        if m:
            slow.append((float(m.group(1)), float(m.group(2))))
    parts = []
    for ms, at in slow[:n]:
        stage, since, throttle = "before the migration", 0.0, "free"
        for t, kind, what in evs:
            if t > at:
                break
            if kind == "stage":
                stage, since = what, t
            else:
                throttle = what
        where = f"{stage} +{at - since:.2f} s" if since else stage
        if stage == "copying":
            where += f", throttle {throttle}"
        parts.append(f"{ms:.1f} ms ({where})")
    print("  slowest during: " + ("; ".join(parts) if parts else "n/a"))


main()
