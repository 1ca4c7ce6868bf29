"""A resumable JSON-lines ledger: one finished record a line, read back by key.

Long studies (the claims ledger, the divergence study, the sampler matrix
of the presets, the learned-priors sweep) append one record per finished
run, so a killed study resumes where it stopped: `pending(keys)` is what
is left to run.

- Appends are whole lines, written with one `os.write` on a file opened
  for appending, then flushed to disk (`fsync`); workers sharing a ledger
  hold an exclusive `fcntl` lock while appending.
- A torn last line (a process killed inside its write: no final newline,
  not valid JSON) is not a finished record: reading ignores it with a
  warning, and the next append cuts it off before writing. An invalid line
  anywhere else is corruption and raises `ValueError` with the file and
  line number.
- Several records of one key: the last one counts (a rerun supersedes).

Example:

>>> import os, tempfile
>>> ledger = Ledger(os.path.join(tempfile.mkdtemp(), "runs.jsonl"), key=("seed", "lr"))
>>> _ = ledger.append({"seed": 0, "lr": 1e-3, "loss": 1.5})
>>> ledger.pending([(0, 1e-3), (1, 1e-3)])
[(1, 0.001)]
>>> ledger.read()[(0, 1e-3)]["loss"]
1.5
"""

import json
import os
import warnings

import numpy as np

try:  # POSIX: workers sharing a ledger append one at a time
    import fcntl
except ImportError:  # pragma: no cover - Windows: single writer
    fcntl = None


def json_default(value):
    """NumPy scalars and arrays as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Expected JSON-serialisable values in a ledger record. Received: {value!r} "
                    f"of type {type(value).__name__}")


class Ledger:
    """Records of finished runs in a JSON-lines file, keyed.

    Args:
        path: str. The `.jsonl` file (created on the first append; its
            folder too).
        key: str, tuple of str, or callable. The record's key: one field,
            a tuple of fields (the key is then the tuple of their values),
            or `record -> hashable`.
    """

    def __init__(self, path, key="key"):
        self.path = os.fspath(path)
        if isinstance(key, str):
            self._key = lambda record: record[key]
        elif isinstance(key, tuple) and all(isinstance(k, str) for k in key):
            self._key = lambda record: tuple(record[k] for k in key)
        elif callable(key):
            self._key = key
        else:
            raise TypeError(f"Expected `key` to be a field name, a tuple of field names or a callable. "
                            f"Received: key={key!r}")

    def key_of(self, record):
        """The key of `record`."""
        try:
            return self._key(record)
        except KeyError as error:
            raise ValueError(f"A ledger record lacks its key field {error}. Received: {record!r}") from None

    def read(self):
        """`{key: record}` of every finished record, in file order (the last record of a key counts)."""
        records = {}
        if not os.path.exists(self.path):
            return records
        with open(self.path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        torn = lines[-1]  # after the last newline: empty, or a torn write
        for number, line in enumerate(lines[:-1], start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{self.path}, line {number} is not a JSON record ({error}); only a torn last line "
                    f"is skipped. Received: {line[:200]!r}") from None
            records[self.key_of(record)] = record
        if torn.strip():
            try:
                record = json.loads(torn)
            except json.JSONDecodeError:
                warnings.warn(f"{self.path}: the last line is torn (a write was cut short); its run is "
                              f"not recorded and will run again. Received: {torn[:200]!r}", stacklevel=2)
            else:  # complete record, only its newline missing
                records[self.key_of(record)] = record
        return records

    def done(self, key):
        """Whether a record of `key` is in the ledger."""
        return key in self.read()

    def pending(self, keys):
        """The keys of `keys` with no record yet, in order."""
        records = self.read()
        return [key for key in keys if key not in records]

    def append(self, record):
        """Appends `record` as one line, flushed to disk; returns it."""
        self.key_of(record)  # a record without its key would never be found again
        line = (json.dumps(record, default=json_default) + "\n").encode()
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._cut_torn_tail(fd)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        return record

    @staticmethod
    def _cut_torn_tail(fd):
        """Truncates an unfinished last line, so the next record starts a line of its own."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        os.lseek(fd, size - 1, os.SEEK_SET)
        if os.read(fd, 1) == b"\n":
            return
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while len(data) < size:
            chunk = os.read(fd, size - len(data))
            if not chunk:
                break
            data += chunk
        cut = data.rfind(b"\n")
        try:
            json.loads(data[cut + 1:])
        except json.JSONDecodeError:
            os.ftruncate(fd, cut + 1)  # the torn record: never finished
        else:
            os.write(fd, b"\n")  # a complete record that lost only its newline
