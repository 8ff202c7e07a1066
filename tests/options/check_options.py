#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# check_options.py PROGRAM - a program's --help, --config keys and environment variables come from one table:
# every option --print-config lists is in --help with its environment variables, and setting it through the
# environment, a --config file and the flag each reaches the same effective value (and says where it came from)
import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".."))
import tsummary  # noqa: E402
tsummary.start("options_" + _os.path.basename(_sys.argv[1]))
import os, re, subprocess, sys, tempfile

prog = sys.argv[1]
clean = {k: v for k, v in os.environ.items() if not k.startswith(("SWARMHEAL_", "ETCDCTL_", "DOCKER_"))}

def run(args, env=None, ok=True):
    p = subprocess.run([prog] + args, capture_output=True, text=True, env=env or clean, timeout=20)
    if ok and p.returncode != 0:
        sys.exit(f"check_options.py: {prog} {args} exited {p.returncode}: {p.stderr.strip()}")
    return p

def config(args, env=None):
    out = {}
    for line in run(args + ["--print-config"], env).stdout.splitlines():
        m = re.match(r"^([a-z0-9-]+)=(.*)\t# (\w+) (\w+)( reloadable)?$", line)
        if not m:
            sys.exit(f"check_options.py: unparsable --print-config line {line!r}")
        out[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return out

help_text = run(["--help"]).stdout
base = config([])
sample = {"bool": "true", "string": "sample-value", "duration": "2h", "count": "5", "list": "a,b"}
# string options whose check accepts only some text
sample_by_name = {"max-failure-ratio": "0.25"}
checked = 0
for name, (default, src, typ) in base.items():
    if f"--{name}" not in help_text:
        sys.exit(f"check_options.py: --{name} missing from --help")
    block = help_text[help_text.index(f"--{name}"):].split("\n  --", 1)[0]
    envs = re.findall(r"env ([A-Z0-9_,]+)", block)
    value = sample_by_name.get(name, sample[typ])
    want = config([f"--{name}={value}"])[name]
    if want[1] != "flag":
        sys.exit(f"check_options.py: --{name}={value} reported source {want[1]}")
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(f"# generated\n{name} = {value}\n")
    got = config(["--config", f.name])[name]
    os.unlink(f.name)
    if got[:1] != want[:1] or got[1] != "config":
        sys.exit(f"check_options.py: config key {name} gave {got}, the flag {want}")
    for e in (envs[0].split(",") if envs else []):
        env = dict(clean, **{e: value})
        got = config([], env)[name]
        if got[:1] != want[:1] or got[1] != "env":
            sys.exit(f"check_options.py: environment {e} gave {got}, the flag {want}")
        checked += 1
    checked += 2
bad = run(["--no-such-option"], ok=False)
if bad.returncode != 64 or "unknown option" not in bad.stderr:
    sys.exit(f"check_options.py: an unknown option gave exit {bad.returncode}: {bad.stderr.strip()}")
print(f"check_options.py: {os.path.basename(prog)}: {len(base)} options, {checked} ways to set them agree with --help")
