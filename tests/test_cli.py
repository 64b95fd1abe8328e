"""`workshop <command>`: a reader that closes the pipe early gets no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from workshop import config


def test_a_closed_stdout_pipe_ends_the_command_quietly(tmp_path):
    """`workshop status | head -0`: stdout closed before the command writes → no traceback, no BrokenPipeError."""
    env = {**os.environ, "WORKSHOP_HOME": str(tmp_path)}
    env.pop("WORKSHOP_ENDPOINT", None)
    proc = subprocess.Popen([sys.executable, "-m", "workshop", "status"], cwd=config.ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `head` having read what it wanted
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
