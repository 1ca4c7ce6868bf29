"""Files written whole or not at all: atomic writes, the debris of killed saves, hashes.

`atomic_write` writes beside the target and renames, so a crash never leaves
a truncated file in place of a user's previous one; the temporary is named
after the target and the writing process, so `remove_stale_temporaries`
tells a killed save's debris (its process gone, a zombie, or its PID reused)
from a save still running.
"""

import glob
import hashlib
import os
import re
import time


def _suffix_of(base):
    if base.endswith(".weights.h5"):
        return ".weights.h5"
    return os.path.splitext(base)[1]


def _linux_process_state(pid):
    """`(state, start time in seconds since the epoch)` from /proc, or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open("/proc/stat") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    # The command name, field 2, may hold spaces: count fields after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _alive(pid, since=None):
    """Whether process `pid` runs and could have written a file last modified at `since`.

    A zombie (killed, not yet reaped by its parent) does not run; on Linux a
    process started after `since` is another one that reuses the PID.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        pass
    state = _linux_process_state(pid)
    if state is None:
        return True
    status, started = state
    if status in ("Z", "X"):
        return False
    return since is None or started <= since + 1.0


def remove_stale_temporaries(path):
    """Deletes temporary files of `path` left by saves that were killed.

    `atomic_write` names its temporary `.tmp-<target>-<pid>-<token><suffix>`
    beside the target; one whose process no longer runs (gone, a zombie, or
    its PID taken by a process started after the file was written) is
    debris of a killed save. Temporaries of the package's older, unnamed
    pattern (`.tmp-XXXXXXXX<suffix>`) are removed once a minute old. Every
    save (`atomic_write`) and load (`SafeSaving.load_weights`) of the
    target calls this.

    Returns:
        The paths removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    suffix = _suffix_of(base)
    stem = base[: len(base) - len(suffix)] if suffix else base
    removed = []
    ours = re.compile(re.escape(f".tmp-{stem}-") + r"(\d+)-[0-9a-f]{8}" + re.escape(suffix) + "$")
    legacy = re.compile(r"\.tmp-[A-Za-z0-9_]{8}" + re.escape(suffix) + "$")
    for candidate in glob.glob(os.path.join(glob.escape(directory), ".tmp-*")):
        name = os.path.basename(candidate)
        match = ours.match(name)
        try:
            if match:
                pid = int(match.group(1))
                # Also our own PID: in a container each run may get the same one.
                stale = not _alive(pid, os.path.getmtime(candidate))
            elif legacy.match(name):
                stale = time.time() - os.path.getmtime(candidate) > 60
            else:
                continue
            if stale:
                os.remove(candidate)
                removed.append(candidate)
        except OSError:
            continue
    return removed


def atomic_write(path, write):
    """Calls `write(tmp_path)` then renames the result onto `path`.

    A crash while writing never leaves a truncated file in place of a
    user's previous weights. The temporary file lies beside the target,
    keeps the final suffix (Keras checks it: `.weights.h5`, `.keras`) and
    is named after the target and the writing process, so the next save of
    the same target removes the debris of a killed one.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    suffix = _suffix_of(base)
    stem = base[: len(base) - len(suffix)] if suffix else base
    remove_stale_temporaries(path)
    tmp = os.path.join(directory, f".tmp-{stem}-{os.getpid()}-{os.urandom(4).hex()}{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes (presets, classifier weights, frozen graphs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
