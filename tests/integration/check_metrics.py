#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# check_metrics.py FILE - parse a /metrics exposition with Prometheus' own parser and check the
# runtime's labelled families are there (counters with controller/kind/result, real histograms)
import sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
need = {"swarmheal_actions": "counter", "swarmheal_leader": "gauge", "swarmheal_queue_depth": "gauge",
        "swarmheal_reconcile_duration_seconds": "histogram", "swarmheal_etcd_request_duration_seconds": "histogram",
        "swarmheal_reconciles": "counter"}
bad = [f"{n}: {fams[n].type if n in fams else 'missing'}" for n, t in need.items() if n not in fams or fams[n].type != t]
if bad:
    sys.exit("check_metrics.py: " + "; ".join(bad))
acts = [s for s in fams["swarmheal_actions"].samples if s.name == "swarmheal_actions_total"]
if not any({"controller", "kind", "result"} <= set(s.labels) for s in acts):
    sys.exit("check_metrics.py: swarmheal_actions_total lacks controller/kind/result labels")
h = fams["swarmheal_reconcile_duration_seconds"].samples
if not any(s.name.endswith("_bucket") and s.labels.get("le") == "+Inf" and s.value > 0 for s in h):
    sys.exit("check_metrics.py: reconcile histogram has no +Inf bucket with samples")
print(f"check_metrics.py: {len(fams)} families parsed")
