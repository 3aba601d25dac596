"""Shared helpers for the network fuzzer and the soak: raw RESP over asyncio sockets, a
blocking RESP client for side processes, and a launcher for the real `strata` binary.

Standard library only, so the tools run from a clean clone with nothing but Python 3.11.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- RESP encoding

def encode(args) -> bytes:
    """One multibulk request; `args` are bytes, str or int."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8", "surrogateescape")
        elif isinstance(a, (int, float)):
            a = repr(a).encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class RespError(Exception):
    """An error reply (`-ERR ...`), returned (not raised) by the readers."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    @property
    def kind(self) -> str:
        return self.text.split(" ", 1)[0] if self.text else ""

    def __repr__(self):
        return f"RespError({self.text!r})"


class Push(list):
    """A RESP3 push frame (`>`), kept apart so readers can skip it."""


class ProtocolViolation(Exception):
    """The server sent bytes that are not RESP."""


MAX_DEPTH = 1_000_000


def _scalar_or_none(t: bytes, body: bytes):
    if t == b"+":
        return body.decode("utf-8", "replace")
    if t == b"-":
        return RespError(body.decode("utf-8", "replace"))
    if t == b":" or t == b"(":
        return int(body)
    if t == b"_":
        return None
    if t == b",":
        return float(body.decode())
    if t == b"#":
        return body == b"t"
    raise ProtocolViolation(f"unexpected reply type byte {t + body[:40]!r}")


# --------------------------------------------------------------------------- async reader

async def read_reply(reader: asyncio.StreamReader):
    """Reads one RESP2 or RESP3 value, iteratively (a Lua script may return arrays nested
    thousands deep). Errors come back as RespError values; EOF raises
    asyncio.IncompleteReadError (or ConnectionError)."""
    stack: list[list] = []      # [items, remaining, type byte]
    while True:
        line = await reader.readuntil(b"\r\n")
        t = line[:1]
        body = line[1:-2]
        if t in (b"*", b"~", b">", b"%", b"|"):
            n = int(body)
            if n < 0:
                value = None
            else:
                if t in (b"%", b"|"):
                    n *= 2
                if n == 0:
                    value = Push() if t == b">" else []
                    if t == b"|":
                        continue
                else:
                    if len(stack) >= MAX_DEPTH:
                        raise ProtocolViolation("reply nested deeper than %d" % MAX_DEPTH)
                    stack.append([Push() if t == b">" else [], n, t])
                    continue
        elif t in (b"$", b"=", b"!"):
            n = int(body)
            if n < 0:
                value = None
            else:
                data = await reader.readexactly(n + 2)
                if data[-2:] != b"\r\n":
                    raise ProtocolViolation(f"bulk of {n} bytes not followed by CRLF")
                value = RespError(data[:-2].decode("utf-8", "replace")) if t == b"!" \
                    else data[:-2]
        else:
            value = _scalar_or_none(t, body)
        # Attach the value to the innermost open aggregate; close the finished ones.
        while True:
            if not stack:
                return value
            top = stack[-1]
            top[0].append(value)
            top[1] -= 1
            if top[1] > 0:
                break
            stack.pop()
            if top[2] == b"|":
                # An attribute map annotates the next value: drop it and read on.
                break
            value = top[0]


async def read_non_push(reader: asyncio.StreamReader):
    """Reads the next reply that is not a RESP3 push (client-tracking invalidations)."""
    while True:
        r = await read_reply(reader)
        if not isinstance(r, Push):
            return r


async def open_conn(host: str, port: int, limit: int = 64 * 1024 * 1024):
    reader, writer = await asyncio.open_connection(host, port, limit=limit)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


class AsyncConn:
    """A small async client for admin-style use (one request at a time)."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host, port):
        r, w = await open_conn(host, port)
        return cls(r, w)

    async def call(self, *args, timeout: float = 10.0):
        self.writer.write(encode(args))
        await self.writer.drain()
        return await asyncio.wait_for(read_non_push(self.reader), timeout)

    async def close(self):
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except Exception:
            pass


# --------------------------------------------------------------------------- blocking client

class SyncConn:
    """A blocking RESP client (for the PING watchdog process and start-up checks)."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[: n + 2]
        return data

    def read(self):
        line = self._line()
        t, body = line[:1], line[1:]
        if t == b"+":
            return body.decode("utf-8", "replace")
        if t == b"-":
            return RespError(body.decode("utf-8", "replace"))
        if t in (b":", b"("):
            return int(body)
        if t in (b"$", b"=", b"!"):
            n = int(body)
            return None if n < 0 else self._exact(n)
        if t in (b"*", b"~", b">"):
            n = int(body)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":
            out = []
            for _ in range(int(body)):
                out.append(self.read())
                out.append(self.read())
            return out
        if t == b"_":
            return None
        if t == b",":
            return float(body.decode())
        if t == b"#":
            return body == b"t"
        raise ProtocolViolation(f"unexpected reply {line[:40]!r}")

    def call(self, *args):
        self.sock.sendall(encode(args))
        return self.read()

    def close(self):
        try:
            self.sock.close()
        except Exception:
            pass


# --------------------------------------------------------------------------- INFO helpers

def parse_info(text) -> dict:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = {}
    for line in str(text).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def pairs_to_dict(value):
    """RESP2 maps arrive as flat [k, v, k, v] lists."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, list) or len(value) % 2:
        return {}
    out = {}
    for i in range(0, len(value), 2):
        k = value[i]
        if isinstance(k, bytes):
            k = k.decode("utf-8", "replace")
        out[k] = value[i + 1]
    return out


def text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


# --------------------------------------------------------------------------- server launcher

def default_binary() -> Path:
    env = os.environ.get("STRATA_BIN")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/strata-target")
    return Path(target) / "release" / "strata"


class ServerProcess:
    """Runs `strata server --port 0` on a temporary data directory; stdout and stderr go to
    one log file that is scanned for `panicked`."""

    LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")

    def __init__(self, binary: Path, extra_args=(), log_path: Path | None = None,
                 keep_dir: bool = False):
        self.binary = Path(binary)
        self.extra_args = list(extra_args)
        self.tmp = tempfile.mkdtemp(prefix="strata-fuzz-")
        self.keep_dir = keep_dir
        self.log_path = Path(log_path) if log_path else Path(self.tmp) / "server.log"
        self.proc: subprocess.Popen | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.starts = 0

    def start(self, timeout: float = 60.0):
        if not self.binary.exists():
            raise SystemExit(f"strata binary not found at {self.binary} (build it with "
                             "`make build` or set STRATA_BIN)")
        self.starts += 1
        data_dir = Path(self.tmp) / f"data{self.starts}"
        data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"\n==== start #{self.starts} {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        cmd = [str(self.binary), "server", "--port", "0", "--bind", "127.0.0.1",
               "--dir", str(data_dir)] + self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self._log_offset_at_start = 0
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"strata exited with {self.proc.returncode} at start-up; "
                                 f"log:\n{self.log_tail()}")
            m = None
            for line in self.log_text().splitlines()[::-1]:
                if line.startswith("==== start #"):
                    break
                m = self.LISTEN_RE.search(line) or m
            if m:
                self.port = int(m.group(2))
                return self
            time.sleep(0.05)
        raise SystemExit(f"strata did not report its port within {timeout}s:\n{self.log_tail()}")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def panics(self) -> list[str]:
        """Log lines mentioning a panic, with the line after (the message)."""
        lines = self.log_text().splitlines()
        out = []
        for i, line in enumerate(lines):
            if "panicked" in line:
                out.append(" | ".join(x.strip() for x in lines[i:i + 2]))
        return out

    def stop(self, timeout: float = 15.0):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self, keep_log: bool = True):
        """Stops the server and removes its data; the log stays unless `keep_log` is false."""
        import shutil
        self.stop()
        if self.keep_dir:
            return
        for p in Path(self.tmp).glob("data*"):
            shutil.rmtree(p, ignore_errors=True)
        if not keep_log and self.log_path.parent == Path(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)


def raise_nofile(want: int) -> int:
    """Raises RLIMIT_NOFILE towards `want` (up to the hard limit); returns the new soft limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fmt_args(args, limit=200) -> str:
    """A command line for a report: each argument truncated, the whole line bounded."""
    parts = []
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8", "surrogateescape")
        elif isinstance(a, int):
            a = str(a).encode()
        if len(a) > 40:
            shown = repr(a[:24])[2:-1] + f"...<{len(a)} bytes>"
        else:
            shown = repr(a)[2:-1]
        parts.append(shown if shown and " " not in shown else f'"{shown}"')
    line = " ".join(parts)
    return line if len(line) <= limit else line[:limit] + " ..."


def start_thread(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t
