# What the Python integration tests share beside nvmf_client.py: check() prints one PASS or FAIL line
# per assertion, summary() the closing "N passed, N failed" line that CI reads; wait_for() polls, and
# sanitizer_clean() and stopped_clean() hold a target's log and exit to what every test asks of them.
import sys
import time

passed = 0
failed = []


def check(name, ok, detail="", detail_on_pass=False):
    """One assertion; the detail is printed with a failure (and with a pass if detail_on_pass)."""
    global passed
    if ok:
        passed += 1
        print(f"PASS {name}" + (f" -- {detail}" if detail_on_pass and detail else ""))
    else:
        failed.append(name)
        print(f"FAIL {name} {detail}")
    sys.stdout.flush()
    return ok


def summary(log=None, tail=30):
    """Print the closing line (and, if anything failed, the last lines of log); the exit code for the test."""
    print(f"{passed} passed, {len(failed)} failed")
    if failed and log:
        print("target log tail:\n" + "\n".join(log.splitlines()[-tail:]))
    return 1 if failed else 0


def wait_for(pred, limit, step=0.05):
    """Seconds until pred() holds, or None after limit seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if pred():
            return time.monotonic() - start
        time.sleep(step)
    return None


def sanitizer_report(text):
    """True if AddressSanitizer, UBSan or ThreadSanitizer said anything in text."""
    return "Sanitizer" in text or "runtime error" in text


def built_with_tsan(binary):
    """True if the binary is instrumented by ThreadSanitizer (its runtime's entry point is linked in)."""
    with open(binary, "rb") as f:
        return b"__tsan_init" in f.read()


def sanitizer_clean(name, log):
    return check(f"{name}: no sanitizer report", not sanitizer_report(log), log[-3000:])


def stopped_clean(target, name="target"):
    """SIGTERM an nvmf_client.Target: it must exit 0 with a clean log. Returns the log."""
    rc = target.stop()
    check(f"{name} exits 0 on SIGTERM", rc == 0, f"rc {rc}")
    log = target.log_text()
    sanitizer_clean(name, log)
    return log
