#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/mutate_drain.sh - remove or bend each rule clause of controllers/drain/drain.c once, fail unless unit_test_drain or
# unit_test_drain_signals (the monitoring rules) catches every one
#
#   tests/mutate_drain.sh [-v] [NAME...]     every mutant, or only the named ones
#
# The source tree is copied to a temp dir (the checked-out drain.c is never touched), configured once,
# and for each mutant below drain.c is rewritten, only the two unit test targets rebuilt and run.
# A mutant is killed when the test fails; one that survives fails the script, and so does a
# mutant that does not build or a clause whose text is no longer in drain.c: update the table.
set -euo pipefail

# ---- the mutants: one line each, NAME @@ TEXT IN drain.c @@ REPLACEMENT ----
# TEXT must occur exactly once; any run of whitespace in it matches any run (so a clause
# may span lines). An empty REPLACEMENT deletes the text.
MUTANTS=$(cat <<'EOF'
death-swarm-down         @@ eq(n->swarm_state, "down") || eq(n->swarm_state, "disconnected") @@ eq(n->swarm_state, "disconnected")
death-swarm-disconnected @@ || eq(n->swarm_state, "disconnected") @@
death-no-heartbeat       @@ if (!n->hb_present || !n->hb_engine_up) @@ if (!n->hb_engine_up)
death-engine-down        @@ if (!n->hb_present || !n->hb_engine_up) @@ if (!n->hb_present)
unknown-is-not-death     @@ eq(n->swarm_state, "down") || @@ eq(n->swarm_state, "down") || eq(n->swarm_state, "unknown") ||
min-percent-rounds-up    @@ (replicas * v + 99) / 100 @@ (replicas * v) / 100
min-percent-at-most-100  @@ if (v > 100) @@ if (v > 1000)
min-malformed-refuses    @@ if (min < 0) { @@ if (0) {
min-target-excluded      @@ if (on == (long)target) @@ if (on == (long)target && 0)
min-dead-drained-ignored @@ if (on >= 0 && (dead[on] @@ if (on < -1 && (dead[on]
min-available-kept       @@ if (left < min) { @@ if (left < min - 1) {
flap-window-default-5m   @@ : 300 * NS_S; @@ : 3000 * NS_S;
holdoff-cap-default-1h   @@ : 3600 * NS_S; @@ : 7200 * NS_S;
max-drained-flag         @@ p->max_drained > 0 ? p->max_drained : @@ 0 ? p->max_drained :
max-drained-third        @@ (int)(n / 3 > 0 ? n / 3 : 1) @@ (int)(n / 2 > 0 ? n / 2 : 1)
max-drained-floor-1      @@ (int)(n / 3 > 0 ? n / 3 : 1) @@ (int)(n / 3 > 0 ? n / 3 : 0)
partition-node-count     @@ int partition = dead * 2 > n || @@ int partition =
partition-zones          @@ || (nz > 1 && zones_down * 2 > nz) @@
partition-zones-need-two @@ (nz > 1 && zones_down @@ (nz > 0 && zones_down
partition-zone-all-dead  @@ zones_down += zone_dead[j] == zone_total[j]; @@ zones_down += zone_dead[j] > 0;
ours-only-counted        @@ nodes[i].state == DRAIN_DRAINED && eq(nodes[i].availability, "drain"); @@ eq(nodes[i].availability, "drain");
person-reactivated       @@ if (nd->state == DRAIN_DRAINED && !eq(avail, "drain")) { @@ if (0) {
person-active-hands-off  @@ if (nd->state == DRAIN_HUMAN_ACTIVE) { @@ if (0) {
person-active-alive      @@ if (J->healthy && J->healthy_since && now - J->healthy_since >= p->restore_after_ns) @@ if (J->healthy_since && now - J->healthy_since >= p->restore_after_ns)
person-active-healthy-for @@ J->healthy_since && now - J->healthy_since >= p->restore_after_ns) @@ J->healthy_since)
restore-after            @@ int64_t need = p->restore_after_ns; @@ int64_t need = 0;
holdoff-doubles          @@ need *= 2; @@ need *= 1;
holdoff-cap              @@ if (need > holdoff_max) need = holdoff_max; @@
restore-alive            @@ if (J->healthy && !nd->requested && @@ if (!nd->requested &&
restore-held-requested   @@ !nd->requested && J->healthy_since && now - J->healthy_since >= need @@ J->healthy_since && now - J->healthy_since >= need
restore-read-only        @@ if (p->read_only) act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps, "would restore @@ if (0) act(r, &oom, DRAIN_ACT_REFUSE, i, nd->state, nd->flaps, "would restore
person-drain-theirs      @@ if (eq(avail, "drain")) continue; @@
grace                    @@ now - J->dead_since >= p->grace_ns @@ 1
manual-needs-alive       @@ } else if (nd->requested && !is_dead) { @@ } else if (nd->requested) {
manual-budget            @@ if (nsvc && !budget_ok( @@ if (0 && !budget_ok(
manual-held-budgets-unknown @@ if (p->budgets_unknown) { @@ if (0) {
manual-held-without-services @@ if (p->budgets_unknown) { @@ if (p->budgets_unknown && nsvc) {
manual-held-marked       @@ r->acts[held_at].held = 1; @@ r->acts[held_at].held = 0;
manual-held-not-deaths   @@ now - J->dead_since >= p->grace_ns && !J->settling) { @@ now - J->dead_since >= p->grace_ns && !J->settling && !p->budgets_unknown) {
partition-deaths-only    @@ if (want == 1 && partition) { @@ if (partition) {
partition-refuses        @@ if (want == 1 && partition) { @@ if (want == 1 && partition && 0) {
read-only-drain          @@ if (p->read_only) { @@ if (0) {
max-drained-refuses      @@ if (drained_by_us >= max_drained) { @@ if (0) {
max-drained-counts-new   @@ drained_by_us++; @@ drained_by_us += 0;
flap-counted             @@ flaps++; @@ flaps += 0;
flap-window              @@ now - nd->since_ns < flap_window @@ now - nd->since_ns < flap_window && 0
flap-reset-after-window  @@ flaps = nd->state == DRAIN_RESTORED ? 0 : flaps; @@ flaps += 0;
early-only-when-on       @@ int early = every && live @@ int early = live
early-probe-while-live   @@ nd->probe_at_ns >= w->live_since_ns && @@
early-timeout-fails-too  @@ w->live_since_ns && (nd->probe == DRAIN_PROBE_REFUSED || nd->probe == DRAIN_PROBE_TIMEOUT) @@ w->live_since_ns && (nd->probe == DRAIN_PROBE_REFUSED)
early-suspect            @@ m = early ? DRAIN_MON_SUSPECT : DRAIN_MON_MONITORED; @@ m = DRAIN_MON_MONITORED;
early-lease-after-fail   @@ nd->lease_at_ns >= w->early_ns; @@ 1;
missed-rounds-down       @@ (ttl_s + 1) * NS_S <= @@ ttl_s * NS_S <=
missed-period            @@ g - etcd_session_period(g, 0) - DRAIN_KEEPALIVE_SLACK_NS @@ g - DRAIN_KEEPALIVE_SLACK_NS
missed-slack             @@ g - etcd_session_period(g, 0) - DRAIN_KEEPALIVE_SLACK_NS @@ g - etcd_session_period(g, 0)
missed-lease-gone        @@ return ttl_s < 0 || @@ return
early-death              @@ } else if ((live && missed) || early_kept) { @@ } else if (early_kept) {
live-probe-asked         @@ } else if (every && live && w->seen && !sw) { @@ } else if (0) {
live-probe-cadence       @@ int need = !nd->probe_at_ns || now - nd->probe_at_ns >= every; @@ int need = 1;
live-probe-outstanding   @@ int outstanding = w->probe_asked_ns > nd->probe_at_ns && now - w->probe_asked_ns < PROBE_REASK_NS; @@ int outstanding = 0;
lease-asked              @@ if (early && !chal && !missed && !sw && @@ if (0 &&
lease-reask-interval     @@ now - nd->lease_at_ns >= reask @@ now - nd->lease_at_ns >= reask * 0
lease-reask-slows-down   @@ now - w->early_ns < DRAIN_LEASE_FAST_NS ? @@ 1 ?
lease-reask-fast-first   @@ now - w->early_ns < DRAIN_LEASE_FAST_NS ? @@ 0 ?
lease-not-when-dead      @@ if (early && !chal && !missed && !sw && @@ if (early && !chal && !sw &&
early-settle             @@ (early_death && !sw && now - w->early_ns < every) @@ (early_death && 0)
early-kept               @@ } else if ((live && missed) || early_kept) { @@ } else if (live && missed) {
challenge-capable-only   @@ int chal = early && nd->hb_answers_challenge; @@ int chal = early;
challenge-map-live       @@ h && parsed && !h->stopped && h->answers_challenge; @@ h && parsed && h->answers_challenge;
challenge-map-parsed     @@ h && parsed && !h->stopped && h->answers_challenge; @@ h && !h->stopped && h->answers_challenge;
challenge-no-lease       @@ if (early && !chal && !missed && !sw && @@ if (early && !missed && !sw &&
challenge-this-episode   @@ nd->challenge_at_ns >= w->early_ns; @@ 1;
challenge-timeout        @@ now - nd->challenge_at_ns >= ctimeout; @@ now - nd->challenge_at_ns >= 0;
challenge-timeout-policy @@ p->challenge_timeout_ns > 0 ? p->challenge_timeout_ns : @@ 0 ? p->challenge_timeout_ns :
challenge-timeout-500ms  @@ : DRAIN_CHALLENGE_TIMEOUT_NS; @@ : 2 * DRAIN_CHALLENGE_TIMEOUT_NS;
challenge-answer-counts  @@ unanswered = chal_fresh && !nd->challenge_answered && @@ unanswered = chal_fresh &&
challenge-death          @@ } else if ((live && unanswered) || @@ } else if ((live && unanswered && 0) ||
challenge-death-kept     @@ || (early_kept && o->early_challenge)) { @@ ) {
challenge-asked          @@ if (chal && !sw && @@ if (0 && !sw &&
challenge-not-waiting    @@ (!chal_fresh || (nd->challenge_answered && @@ (1 || (nd->challenge_answered &&
challenge-reask-answered @@ (nd->challenge_answered && now - nd->challenge_at_ns >= DRAIN_CHALLENGE_REASK_NS) @@ (now - nd->challenge_at_ns >= DRAIN_CHALLENGE_REASK_NS)
challenge-reask-interval @@ now - nd->challenge_at_ns >= DRAIN_CHALLENGE_REASK_NS) @@ now - nd->challenge_at_ns >= 0)
early-kept-while-failing @@ o->early_ns && (nd->probe == DRAIN_PROBE_REFUSED || nd->probe == DRAIN_PROBE_TIMEOUT); @@ o->early_ns;
early-settle-not-swarm   @@ (early_death && !sw && now - w->early_ns < every) @@ (early_death && now - w->early_ns < every)
EOF
)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERBOSE=0
[ "${1:-}" = -v ] && { VERBOSE=1; shift; }
ONLY=" $* "
TMP=$(mktemp -d /tmp/swarmheal-mutate.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

# a copy of the working tree (uncommitted edits included), without build dirs or .git
tar -C "$ROOT" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$TMP" -xf -
SRC=$TMP/controllers/drain/drain.c
cp "$SRC" "$TMP/drain.c.orig"
cmake -S "$TMP" -B "$TMP/b" $(command -v ninja >/dev/null && echo -G Ninja) -DCMAKE_BUILD_TYPE=Debug >"$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log" >&2; exit 1; }
build() { cmake --build "$TMP/b" -j2 --target unit_test_drain unit_test_drain_signals >"$TMP/build.log" 2>&1; }
units() { "$TMP/b/bin/unit_test_drain" 2>&1 && "$TMP/b/bin/unit_test_drain_signals" 2>&1; }
build || { echo "mutate_drain: the unmutated tree does not build" >&2; tail -20 "$TMP/build.log" >&2; exit 1; }
units >/dev/null || { echo "mutate_drain: unit_test_drain or unit_test_drain_signals fails without any mutant" >&2; exit 1; }

# mutate FROM TO: literal replacement in $SRC, whitespace runs in FROM match any whitespace; 0 if exactly one match
mutate() {
	FROM=$1 TO=$2 perl -0777 -i -pe '
		BEGIN { $re = join("\\s+", map { quotemeta } split(/\s+/, $ENV{FROM})); $n = 0 }
		$n = () = /$re/g;
		s/$re/$ENV{TO}/ if $n == 1;
		END { exit($n == 1 ? 0 : 3) }' "$SRC"
}

total=0 killed=0 failed=0
t0=$(date +%s.%N)
while IFS= read -r line; do
	[ -n "$line" ] || continue
	name=$(sed 's/ *@@.*//' <<<"$line")
	from=$(awk -F' *@@ *' '{print $2}' <<<"$line")
	to=$(awk -F' *@@ *' '{print $3}' <<<"$line")
	[ "$ONLY" = "  " ] || [[ $ONLY == *" $name "* ]] || continue
	total=$((total + 1))
	cp "$TMP/drain.c.orig" "$SRC"
	if ! mutate "$from" "$to"; then
		echo "mutate_drain: $name: the text '$from' is not in drain.c exactly once: update the table"
		failed=$((failed + 1))
		continue
	fi
	if cmp -s "$SRC" "$TMP/drain.c.orig"; then
		echo "mutate_drain: $name: the mutant changes nothing"
		failed=$((failed + 1))
		continue
	fi
	if ! build; then
		echo "mutate_drain: $name: the mutant does not build (that proves nothing): fix the table"
		grep -m3 'error' "$TMP/build.log" || true
		failed=$((failed + 1))
		continue
	fi
	if out=$(units); then
		echo "SURVIVED $name: '$from' -> '$to'"
		failed=$((failed + 1))
	else
		killed=$((killed + 1))
		fails=$(grep -o 'Test [A-Za-z0-9_]*' <<<"$out" | sed 's/^Test //' | sort -u | tr '\n' ' ' || true)
		echo "killed   $name${fails:+ by ${fails% }}"
		[ $VERBOSE = 1 ] && sed -n '/Run Summary/,$p' <<<"$out"
	fi
done <<<"$MUTANTS"
cp "$TMP/drain.c.orig" "$SRC"
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
printf 'mutate_drain: %d of %d mutants killed, %d survived or stale, %s s\n' "$killed" "$total" "$failed" "$secs"
# the line tests/run.sh collects from every suite (tmain.h): a mutant is a test, its kill an assertion
echo "T_SUMMARY suite=mutate_drain tests=$total failed_tests=$failed asserts=$total failed_asserts=$failed seconds=$secs"
[ "$total" -gt 0 ] && [ "$failed" = 0 ]
