"""The ``coconut`` command leaves without the interpreter's teardown once its output is out (issue 19: ~20 ms
of each command), and nothing a command wrote, nor its status, nor its at-exit work, is lost on the way."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: runs coconut's entry point with a command standing in for the CLI: it writes more than a pipe's buffer, sets
#: an at-exit handler and an object whose finalizer only the interpreter's teardown would run, then ends as told
PROGRAM = """
import atexit, sys, threading, time
import coconut.cli, coconut.__main__

class TornDown:
    def __del__(self):
        sys.stderr.write("torn down\\n")

def command():
    sys.stdout.write("x" * 300_000)
    sys.stderr.write("partial line")
    atexit.register(lambda: sys.stderr.write(" at exit"))
    if "thread" in sys.argv:
        threading.Thread(target=lambda: (time.sleep(0.2), sys.stdout.write("late"))).start()
    if "daemon" in sys.argv:  # as gRPC's channel threads: never waited for
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    return 4

kept = TornDown()
coconut.cli.main = command
coconut.__main__.main()
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("threads", [(), ("daemon",)])
def test_the_coconut_command_leaves_with_its_output_status_and_exit_handlers_but_no_teardown(threads):
    done = run(*threads)
    assert (done.returncode, len(done.stdout)) == (4, 300_000)
    assert done.stderr == "partial line at exit"  # flushed, the handler ran, no module was torn down


def test_the_coconut_command_waits_for_a_thread_still_running():
    done = run("thread")
    assert done.returncode == 4
    assert done.stdout.endswith("late")
    assert "at exit" in done.stderr
