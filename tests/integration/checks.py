# Pass/fail bookkeeping shared by the Python integration tests: check() prints one PASS or FAIL line
# per assertion, summary() the closing "N passed, N failed" line that CI reads.
import sys

passed = 0
failed = []


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed.append(name)
        print(f"FAIL {name} {detail}")
    sys.stdout.flush()
    return ok


def summary():
    """Print the closing line; the exit code for the test."""
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0
