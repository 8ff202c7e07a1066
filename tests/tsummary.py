# SPDX-License-Identifier: MIT
# tsummary.py - the T_SUMMARY line tests/run.sh counts, for test scripts written in Python
# (one "test" per script: it passed or it failed; sys.exit(msg) is a failure)
import atexit, sys, time

_state = {"suite": None, "t0": 0.0, "failed": None}


def _print(failed):
    print(f"T_SUMMARY suite={_state['suite']} tests=1 failed_tests={failed} asserts=1 failed_asserts={failed} "
          f"seconds={time.time() - _state['t0']:.1f}", flush=True)


def start(suite):
    _state.update(suite=suite, t0=time.time())
    real_exit = sys.exit

    def exit_with_summary(code=0):
        _state["failed"] = 0 if code in (0, None) else 1
        _print(_state["failed"])
        real_exit(code)

    sys.exit = exit_with_summary
    # an uncaught exception or a normal end: print once
    atexit.register(lambda: _state["failed"] is None and _print(0 if sys.exc_info()[0] is None else 1))
    prev = sys.excepthook

    def hook(t, v, tb):
        _state["failed"] = 1
        prev(t, v, tb)
        _print(1)

    sys.excepthook = hook
