#!/usr/bin/env python3
"""Runs the README's "A session with a real client" exactly as printed, and checks it.

Every line of the first ```sh block of that section that starts with "$ " is a command (a line
ending in a backslash continues it); the lines after it, up to the next command, are its output as
the README shows it. All commands run in order in one bash process, so variables carry over. The
command that starts the server ("cargo run …&") runs in the background; the script waits for the
port before going on.

A command passes when it exits 0 (or non-zero, when its README output starts with "ERROR:") and
its README output lines appear, in order, within what it printed. Ids, tokens, timestamps and the
raw bytes of error details vary between runs and are compared as placeholders; a line that is
just "…" stands for any number of lines, and "…" inside a line for any text.

Usage: readme_session.py [--runs N]   (default 2: a fresh data directory, then the same again)
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## A session with a real client"
PORT = 50051

VARYING = [
    (re.compile(r"\x1b\[[0-9;]*m"), ""),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hex>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r'"@value":"[A-Za-z0-9+/=]*"'), '"@value":"<bytes>"'),
]


def normalise(line):
    for pattern, placeholder in VARYING:
        line = pattern.sub(placeholder, line)
    return line.rstrip()


def session_block(readme):
    start = readme.index(SECTION)
    opening = readme.index("```sh\n", start) + len("```sh\n")
    return readme[opening : readme.index("```", opening)].splitlines()


def parse(lines):
    """[(command, expected output lines)]"""
    steps, command, expected = [], None, []
    continuing = False
    for line in lines:
        if continuing:
            command += "\n" + line
            continuing = line.endswith("\\")
        elif line.startswith("$ "):
            if command is not None:
                steps.append((command, expected))
            command, expected = line[2:], []
            continuing = line.endswith("\\")
        elif command is not None and line.strip():
            expected.append(line)
    if command is not None:
        steps.append((command, expected))
    return steps


def matches(expected, printed):
    """Whether the expected lines appear in order within the printed ones."""
    printed = [normalise(p) for p in printed]
    at = 0
    for want in expected:
        if want.strip() == "…":
            continue
        pattern = ".*".join(re.escape(part) for part in normalise(want).strip().split("…"))
        regex = re.compile(pattern)
        while at < len(printed) and not regex.search(printed[at]):
            at += 1
        if at == len(printed):
            return want
        at += 1
    return None


def port_open():
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", PORT)) == 0


def run_once(steps, work, data_dir):
    script = ["set -u", f"cd {ROOT}"]
    for i, (command, _) in enumerate(steps):
        out = os.path.join(work, f"{i}.out")
        if "cargo run" in command:
            script.append(f"{command.rstrip('&').strip()} > {out} 2>&1 &")
            script.append(f"echo $! > {work}/server.pid")
            script.append(
                f"for _ in $(seq 1 600); do grep -q 'SeatRush listening' {out} && break; sleep 0.5; done"
            )
            script.append(f"echo 0 > {out}.rc")
        else:
            script.append(f"{{\n{command}\n}} > {out} 2>&1; echo $? > {out}.rc")
    env = dict(os.environ, SEATRUSH_DATA_DIR=data_dir, NO_COLOR="1")
    failures = []
    try:
        subprocess.run(["bash", "-c", "\n".join(script)], env=env, timeout=900, check=False)
    finally:
        pid_file = os.path.join(work, "server.pid")
        if os.path.exists(pid_file):
            pid = open(pid_file).read().strip()
            subprocess.run(["pkill", "-TERM", "-P", pid], check=False)
            subprocess.run(["kill", "-TERM", pid], check=False)
            for _ in range(100):
                if not port_open():
                    break
                time.sleep(0.1)
    for i, (command, expected) in enumerate(steps):
        out = os.path.join(work, f"{i}.out")
        printed = open(out, errors="replace").read().splitlines() if os.path.exists(out) else []
        rc_file = out + ".rc"
        rc = int(open(rc_file).read().strip() or 1) if os.path.exists(rc_file) else None
        wants_error = bool(expected) and expected[0].startswith("ERROR:")
        first_line = command.splitlines()[0]
        if rc is None:
            failures.append(f"never ran: $ {first_line}")
        elif (rc != 0) != wants_error:
            failures.append(f"exit {rc}: $ {first_line}\n" + "\n".join(printed[-15:]))
        else:
            missing = matches(expected, printed)
            if missing is not None:
                failures.append(
                    f"$ {first_line}\n  README shows: {missing}\n  it printed:\n    "
                    + "\n    ".join(printed[:40])
                )
    return failures


def main():
    runs = 2
    if "--runs" in sys.argv:
        runs = int(sys.argv[sys.argv.index("--runs") + 1])
    if port_open():
        sys.exit(f"readme session: port {PORT} is already in use; the README's session needs it")
    for tool in ["grpcurl", "buf", "jq"]:
        if shutil.which(tool) is None:
            sys.exit(f"readme session: {tool} is not on PATH (.ci/run installs it)")
    steps = parse(session_block(open(os.path.join(ROOT, "README.md")).read()))
    data_dir = tempfile.mkdtemp(prefix="seatrush-readme-")
    failed = False
    for run in range(1, runs + 1):
        work = tempfile.mkdtemp(prefix="seatrush-readme-run-")
        failures = run_once(steps, work, data_dir)
        state = "fresh" if run == 1 else "the same"
        print(f"readme session, run {run} ({state} data directory): {len(steps)} commands, {len(failures)} failed")
        for failure in failures:
            print("  FAILED " + failure.replace("\n", "\n  "))
        failed |= bool(failures)
    shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
