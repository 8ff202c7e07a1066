#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# validate_output.py SCHEMA FILE... - each swarmhealctl -o json (*.json) or -o yaml (*.yaml) output validates against
# cmd/swarmhealctl/schema/swarmhealctl.json, and a YAML file reads back equal to its JSON twin (same stem) when both exist
import json, os, sys
import jsonschema, yaml

schema_path, files = sys.argv[1], sys.argv[2:]
with open(schema_path) as f:
    schema = json.load(f)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
v = cls(schema, format_checker=jsonschema.FormatChecker())
docs = {}
for path in files:
    with open(path) as f:
        text = f.read()
    doc = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    errs = sorted(v.iter_errors(doc), key=lambda e: e.path)
    if errs:
        best = jsonschema.exceptions.best_match(errs)
        sys.exit(f"validate_output.py: {path}: {best.message} at {list(best.absolute_path)}")
    docs[path] = doc
for path, doc in docs.items():
    if path.endswith(".yaml"):
        twin = path[:-5] + ".json"
        if twin in docs and docs[twin] != doc:
            sys.exit(f"validate_output.py: {path} does not read back equal to {twin}")
print(f"validate_output.py: {len(files)} outputs valid against {os.path.basename(schema_path)}")
