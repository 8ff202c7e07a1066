#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# validate.py SAMPLES_PROGRAM SCHEMA_DIR - every encoder's output validates against its JSON Schema,
# and every schema file has at least one sample (so a new record cannot skip this test)
import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".."))
import tsummary  # noqa: E402
tsummary.start("record_schemas")
import json, os, subprocess, sys
import jsonschema

prog, schema_dir = sys.argv[1], sys.argv[2]
out = subprocess.run([prog], check=True, capture_output=True, text=True).stdout
seen, n = set(), 0
checker = jsonschema.FormatChecker()
for line in out.splitlines():
    name, doc = line.split("\t", 1)
    with open(os.path.join(schema_dir, name + ".json")) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema, format_checker=checker).validate(json.loads(doc))
    seen.add(name)
    n += 1
missing = {f[:-5] for f in os.listdir(schema_dir) if f.endswith(".json")} - seen
if missing:
    sys.exit("validate.py: no sample for schema(s): " + ", ".join(sorted(missing)))
print(f"validate.py: {n} samples of {len(seen)} records valid against their schemas")
