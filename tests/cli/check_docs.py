#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# check_docs.py SWARMHEALCTL SRC - the man pages, the bash completion and --help come from the same tables:
# every option a verb's --help lists is in that verb's man page and in the completion script, every verb has a
# man page and examples, and deploy/bash-completion/swarmhealctl is the script the program prints now
import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".."))
import tsummary  # noqa: E402
tsummary.start("cli_docs")
import os, re, subprocess, sys

prog, src = sys.argv[1], sys.argv[2]
env = {k: v for k, v in os.environ.items() if not k.startswith(("SWARMHEAL", "ETCDCTL_", "DOCKER_"))}

def run(*args):
    p = subprocess.run([prog, *args], capture_output=True, text=True, env=env, timeout=20)
    if p.returncode != 0:
        sys.exit(f"check_docs.py: {prog} {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout

top = run("--help")
verbs = re.findall(r"^  ([a-z]+) {2,}", top.split("verbs:", 1)[1].split("\n\n", 1)[0], re.M)
if len(verbs) < 7:
    sys.exit(f"check_docs.py: too few verbs in --help: {verbs}")
completion = run("completion", "bash")
with open(os.path.join(src, "deploy/bash-completion/swarmhealctl")) as f:
    if f.read() != completion:
        sys.exit("check_docs.py: deploy/bash-completion/swarmhealctl is stale: "
                 "regenerate it with 'swarmhealctl completion bash'")
checked = 0
for verb in verbs:
    help_text = run(verb, "--help")
    if "examples:" not in help_text:
        sys.exit(f"check_docs.py: '{verb} --help' has no examples")
    man = run("man", verb).replace("\\-", "-")
    if f".TH SWARMHEALCTL-{verb.upper()} 1" not in man:
        sys.exit(f"check_docs.py: no man page header for {verb}")
    for opt in re.findall(r"^  (--[a-z0-9-]+)", help_text, re.M):
        if opt in ("--config", "--print-config", "--help", "--version"):
            continue
        if f".B {opt}" not in man:
            sys.exit(f"check_docs.py: {opt} of '{verb} --help' is missing from its man page")
        if opt not in completion:
            sys.exit(f"check_docs.py: {opt} of '{verb} --help' is missing from the bash completion")
        checked += 1
print(f"check_docs.py: {len(verbs)} verbs, {checked} options in --help, man pages and completion alike")
