#!/usr/bin/env python3
"""The host side of the test guest's virtio-vsock modes (tests/guest/README.md,
"virtio-vsock"), through brig's unix-socket vsock (Firecracker's hybrid vsock).

usage: vsock-test.py --brig BRIG --guest GUEST --case CASE [--timeout SECS]
                     [--bytes N] [--brig-arg ARG]... [--keep] [--verbose]
       vsock-test.py --list
       vsock-test.py --self-test

Each case makes a temporary directory DIR, creates the listeners the guest will
connect to (DIR/vsock.sock_PORT) and runs

    BRIG run --kernel GUEST --mem 256 --vsock cid=3,socket=DIR/vsock.sock \\
        --cmdline "mode=..." [case args] [--brig-arg ...]

with the caller's environment (BRIG_POLICY_DIR and the like), standard input
/dev/null, reading the guest's serial console from brig's standard output. It
plays the host side, waits for brig to exit and checks its status and the
guest's lines. "PASS CASE ..." and exit status 0, or one "FAIL CASE: why" line,
the guest's output and the tail of brig's standard error, and exit status 1.
Every wait has a deadline (--timeout, default 120 s per case; brig is killed
when it runs out).

Host -> guest: connect to DIR/vsock.sock, write "CONNECT <port>\\n", read
"OK <host port>\\n" (anything else, or EOF, is a refusal), then raw bytes.
Guest -> host: brig connects to DIR/vsock.sock_<port>.

The pattern and checksum are the guest's (tests/guest/virtio_vsock.h): the byte
stream is little-endian 32-bit words, word i = (i * 2654435761) mod 2^32; the
checksum over the words w is a += w; b += a (mod 2^32 each, from 0), sum =
b << 32 | a, an incomplete last word padded with zero bytes.
"""
import argparse
import array
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# --- The pattern and its checksum (the same as tests/guest/virtio_vsock.h) ------------

K = 2654435761
MASK32 = 0xFFFFFFFF
BLOCK_WORDS = 16384  # 64 KiB
BLOCK_BYTES = BLOCK_WORDS * 4
_WORD_TYPE = next(t for t in "IL" if array.array(t).itemsize == 4)


def pattern_word(i):
    return (i * K) & MASK32


def pattern_bytes(first_word, count):
    """Pattern words first_word .. first_word + count - 1 as little-endian bytes."""
    words = array.array(_WORD_TYPE, [(i * K) & MASK32 for i in range(first_word, first_word + count)])
    if sys.byteorder == "big":
        words.byteswap()
    return words.tobytes()


def pattern_stream(total_bytes, first_word=0):
    """The pattern's first total_bytes (a multiple of 4) in blocks of at most 64 KiB."""
    word = first_word
    left = total_bytes // 4
    while left > 0:
        n = min(left, BLOCK_WORDS)
        yield pattern_bytes(word, n)
        word += n
        left -= n


def fletcher(data):
    """The checksum, the plain way (for --self-test and short data)."""
    a = b = 0
    padded = bytes(data) + bytes(-len(data) % 4)
    for (w,) in struct.iter_unpack("<I", padded):
        a = (a + w) & MASK32
        b = (b + a) & MASK32
    return (b << 32) | a


def pattern_sum(words):
    """The checksum of pattern words 0 .. words - 1 in closed form: a = K n(n-1)/2, b = K (n+1)n(n-1)/6."""
    n = words
    a = (K * (n * (n - 1) // 2)) & MASK32
    b = (K * ((n + 1) * n * (n - 1) // 6)) & MASK32
    return (b << 32) | a


class StreamCheck:
    """Checks a received stream against the pattern and sums it, in pieces of any size.

    Whole 64 KiB blocks are compared with the expected bytes at once; the checksum
    is the pattern's closed form corrected by each word that differs (word i off by
    d adds d to a and d * (N - i) to b), as the guest computes it.
    """

    def __init__(self):
        self.words = 0
        self.bad = 0
        self.delta_sum = 0
        self.delta_weighted = 0
        self.pending = bytearray()
        self.length = 0

    def feed(self, data):
        self.length += len(data)
        self.pending += data
        if len(self.pending) >= BLOCK_BYTES:
            usable = len(self.pending) - len(self.pending) % BLOCK_BYTES
            view = memoryview(self.pending)
            for start in range(0, usable, BLOCK_BYTES):
                self._block(view[start:start + BLOCK_BYTES])
            view.release()
            del self.pending[:usable]

    def _block(self, block):
        n = len(block) // 4
        expected = pattern_bytes(self.words, n)
        if block != expected:
            got = struct.unpack(f"<{n}I", block)
            want = struct.unpack(f"<{n}I", expected)
            for j in range(n):
                if got[j] != want[j]:
                    d = (got[j] - want[j]) & MASK32
                    self.bad += 1
                    self.delta_sum = (self.delta_sum + d) & MASK32
                    self.delta_weighted = (self.delta_weighted + (self.words + j) * d) & MASK32
        self.words += n

    def finish(self):
        """Checks what is left (an incomplete word zero-padded); call once, at the end."""
        rest = bytes(self.pending)
        self.pending = bytearray()
        if rest:
            self._block(rest + bytes(-len(rest) % 4))

    def sum(self):
        n = self.words
        a = (K * (n * (n - 1) // 2) + self.delta_sum) & MASK32
        b = (K * ((n + 1) * n * (n - 1) // 6) + n * self.delta_sum - self.delta_weighted) & MASK32
        return (b << 32) | a


def self_test():
    """The closed form and the block checker against the plain checksum."""
    import random
    rng = random.Random(7)
    for n in list(range(0, 40)) + [1000, 16383, 16384, 16385, 40000]:
        data = pattern_bytes(0, n)
        assert fletcher(data) == pattern_sum(n), n
    for trial in range(200):
        length = rng.randrange(0, 300000)
        data = bytearray(b"".join(pattern_stream(length + 4))[:length])
        for _ in range(rng.randrange(0, 4)):
            if length:
                data[rng.randrange(length)] ^= rng.randrange(1, 256)
        check = StreamCheck()
        pos = 0
        while pos < length:
            piece = rng.randrange(1, 100000)
            check.feed(bytes(data[pos:pos + piece]))
            pos += piece
        check.finish()
        assert check.sum() == fletcher(data), (trial, length)
    # The guest's figures (tests/guest: vsock_pattern_sum) for a few sizes.
    assert pattern_sum(1 << 20) == 0x6628000032780000
    assert pattern_sum(16777216) == 0x6280000027800000
    print("self-test ok")


# --- The harness ----------------------------------------------------------------------

GUEST_CID = 3


class Fail(Exception):
    pass


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Run:
    def __init__(self, args, case):
        self.args = args
        self.case = case
        self.timeout = args.timeout
        self.start_time = time.monotonic()
        self.deadline = self.start_time + self.timeout
        self.dir = tempfile.mkdtemp(prefix="brig-vsock-")
        self.sock = os.path.join(self.dir, "vsock.sock")
        self.proc = None
        self.lines = []
        self.stderr = []
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.errors = []  # from the host-side threads
        self.listeners = []
        self.threads = []
        self.notes = []  # what the PASS line reports
        self.fd_samples = []
        self.fd_baseline = None

    # -- time --
    def remaining(self):
        return max(0.0, self.deadline - time.monotonic())

    def check_time(self, what):
        if self.remaining() <= 0:
            raise Fail(f"timeout ({self.timeout:.0f} s) {what}")

    # -- brig --
    def start(self, cmdline, extra=()):
        command = [self.args.brig, "run", "--kernel", self.args.guest, "--mem", "256",
                   "--vsock", f"cid={GUEST_CID},socket={self.sock}", "--cmdline", cmdline]
        command += list(extra) + list(self.args.brig_arg)
        if self.args.verbose:
            print("+ " + " ".join(command), file=sys.stderr)
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.thread(self._read_stdout)
        self.thread(self._read_stderr)

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if self.args.verbose:
                print("guest| " + line, file=sys.stderr)
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if self.args.verbose:
                print("brig | " + line, file=sys.stderr)
            self.stderr.append(line)

    def output(self):
        with self.cond:
            return [line for line in self.lines if line is not None]

    def wait_line(self, prefix, what=None):
        """The first guest line starting with prefix; Fail when the output ends or time runs out."""
        with self.cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if line is None:
                        raise Fail(f"the guest's output ended without {prefix!r}")
                    if line.startswith(prefix):
                        return line
                    if line.startswith("vsock: FAIL"):
                        raise Fail(f"guest: {line}")
                seen = len(self.lines)
                left = self.remaining()
                if left <= 0:
                    raise Fail(f"timeout ({self.timeout:.0f} s) waiting for {what or repr(prefix)}")
                self.cond.wait(min(left, 0.5))

    def wait_exit(self, expect_status=0):
        try:
            status = self.proc.wait(timeout=max(self.remaining(), 0.1))
        except subprocess.TimeoutExpired:
            raise Fail(f"timeout ({self.timeout:.0f} s): brig did not exit")
        # The readers finish once the pipes close.
        end = time.monotonic() + 5
        with self.cond:
            while (not self.lines or self.lines[-1] is not None) and time.monotonic() < end:
                self.cond.wait(0.2)
        self.stopping.set()
        self.raise_thread_errors()
        for line in self.output():
            if line.startswith("vsock: FAIL"):
                raise Fail(f"guest: {line}")
        if status != expect_status:
            raise Fail(f"brig exited with status {status}, expected {expect_status}")
        return status

    def expect(self, line):
        if line not in self.output():
            raise Fail(f"no line {line!r}")

    def expect_prefix(self, prefix):
        for line in self.output():
            if line.startswith(prefix):
                return line
        raise Fail(f"no line starting {prefix!r}")

    def settle(self, seconds=3):
        """After a failure: brig gets a moment to exit by itself (its last words are the
        diagnosis, e.g. a device that crashed), then it is killed; the readers drain."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
        end = time.monotonic() + 2
        with self.cond:
            while (not self.lines or self.lines[-1] is not None) and time.monotonic() < end:
                self.cond.wait(0.2)
        if self.proc.returncode is not None and self.proc.returncode != 0:
            self.stderr.append(f"(brig exited with status {self.proc.returncode})")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.stopping.set()
        self.kill()
        for listener in self.listeners:
            try:
                listener.close()
            except OSError:
                pass
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- threads --
    def thread(self, target, *args):
        def run():
            try:
                target(*args)
            except Exception as e:  # noqa: BLE001 -- reported as the case's failure
                if not self.stopping.is_set() or not isinstance(e, OSError):
                    self.errors.append(f"{target.__name__}: {e}")
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def raise_thread_errors(self):
        if self.errors:
            raise Fail("host side: " + "; ".join(self.errors))

    # -- brig's file descriptors --
    def sample_fds(self):
        while not self.stopping.is_set() and self.proc.poll() is None:
            count = fd_count(self.proc.pid)
            if count is not None:
                self.fd_samples.append(count)
            time.sleep(0.05)

    def fd_check(self, slack=64):
        samples = [s for s in self.fd_samples if s is not None]
        if self.fd_baseline is None or not samples:
            raise Fail("no fd samples of brig")
        peak = max(samples)
        self.notes.append(f"fds baseline={self.fd_baseline} max={peak}")
        if peak >= self.fd_baseline + slack:
            raise Fail(f"brig's fd count reached {peak}, baseline {self.fd_baseline} (+{slack} allowed)")

    # -- unix sockets --
    def listen(self, port):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(f"{self.sock}_{port}")
        s.listen(256)
        s.settimeout(0.2)
        self.listeners.append(s)
        return s

    def accept(self, listener, what):
        while True:
            self.check_time(f"waiting for {what}")
            if self.proc is not None and self.proc.poll() is not None:
                raise Fail(f"brig exited before {what}")
            try:
                conn, _ = listener.accept()
                conn.settimeout(None)
                return conn
            except socket.timeout:
                continue

    def raw_connect(self):
        """A connection to DIR/vsock.sock, retried while brig's backlog is full."""
        while True:
            self.check_time("connecting to the vsock socket")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(min(self.remaining(), 5) or 0.1)
            try:
                s.connect(self.sock)
                return s
            except (BlockingIOError, socket.timeout, ConnectionRefusedError, FileNotFoundError):
                s.close()
                time.sleep(0.05)

    def handshake(self, s, port):
        """CONNECT port; returns the OK line's host port, or raises Fail on a refusal."""
        s.sendall(f"CONNECT {port}\n".encode())
        line = read_line(s, self.deadline)
        if not line.startswith("OK "):
            raise Fail(f"CONNECT {port}: answered {line!r}")
        return int(line[3:])

    def connect(self, port):
        s = self.raw_connect()
        self.handshake(s, port)
        return s


def read_line(s, deadline, limit=128):
    """One line, read byte by byte (no byte past the newline is taken); '' on EOF."""
    line = b""
    while not line.endswith(b"\n") and len(line) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"timeout reading a line (got {line!r})")
        s.settimeout(left)
        try:
            byte = s.recv(1)
        except socket.timeout:
            continue
        except OSError:
            break
        if not byte:
            break
        line += byte
    return line.decode(errors="replace").rstrip("\n")


def exchange(run, socks_and_data, what):
    """Sends each socket its data and reads back as many bytes, all at once; returns what came back."""
    sel = selectors.DefaultSelector()
    state = {}
    for s, data in socks_and_data:
        s.setblocking(False)
        state[s] = {"out": memoryview(data), "in": bytearray(), "want": len(data)}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    open_socks = len(state)
    while open_socks:
        run.check_time(what)
        for key, events in sel.select(timeout=min(run.remaining(), 0.5)):
            s = key.fileobj
            st = state[s]
            if events & selectors.EVENT_WRITE and st["out"]:
                try:
                    n = s.send(st["out"][:65536])
                    st["out"] = st["out"][n:]
                except BlockingIOError:
                    pass
            if events & selectors.EVENT_READ:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    raise Fail(f"{what}: the connection closed after {len(st['in'])} of {st['want']} bytes")
                if chunk:
                    st["in"] += chunk
            mask = selectors.EVENT_WRITE if st["out"] else 0
            if len(st["in"]) < st["want"]:
                mask |= selectors.EVENT_READ
            if mask == 0:
                sel.unregister(s)
                open_socks -= 1
            else:
                sel.modify(s, mask)
    sel.close()
    for s, _ in socks_and_data:
        s.setblocking(True)
    return [bytes(state[s]["in"]) for s, _ in socks_and_data]


# --- Host-side roles --------------------------------------------------------------------

def echo_listener(run, listener):
    """Accepts every connection brig makes and echoes it back until EOF."""
    while not run.stopping.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        run.thread(echo_connection, run, conn)


def echo_connection(run, conn):
    conn.settimeout(0.5)
    try:
        while not run.stopping.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return
            if not data:
                return
            conn.settimeout(max(run.remaining(), 0.1))
            try:
                conn.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                return
            conn.settimeout(0.5)
    finally:
        conn.close()


def hold_listener(run, listener, held):
    """Accepts every connection and keeps it open; closes those brig closed."""
    sel = selectors.DefaultSelector()
    while not run.stopping.is_set():
        try:
            conn, _ = listener.accept()
            conn.setblocking(False)
            held["accepted"] += 1
            held["open"] += 1
            held["max_open"] = max(held["max_open"], held["open"])
            sel.register(conn, selectors.EVENT_READ)
            continue
        except socket.timeout:
            pass
        except BlockingIOError:
            pass
        except OSError:
            break
        for key, _ in sel.select(timeout=0):
            try:
                data = key.fileobj.recv(4096)
            except (BlockingIOError, ConnectionResetError):
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                held["open"] -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()


# --- The cases ----------------------------------------------------------------------------

def case_echo_g2h(run):
    run.thread(echo_listener, run, run.listen(5000))
    run.start("mode=vsock-echo-client")
    run.wait_exit(0)
    run.expect("vsock: echo-client ok count=4 size=4096")


def case_echo_h2g(run):
    run.start("mode=vsock-echo-server")
    run.wait_line("vsock: listening port=6000")
    s = run.connect(6000)
    data = pattern_bytes(0, BLOCK_WORDS)
    (back,) = exchange(run, [(s, data)], "echo of 64 KiB")
    if back != data:
        raise Fail("the echo differs from what was sent")
    s.close()
    run.wait_exit(0)
    run.expect("vsock: echo-server served 1")


def case_many(run):
    conns = 64
    run.start(f"mode=vsock-echo-server vsock.conns={conns}")
    run.wait_line("vsock: listening port=6000")
    socks = [run.raw_connect() for _ in range(conns)]
    for s in socks:
        s.sendall(b"CONNECT 6000\n")
    for i, s in enumerate(socks):
        line = read_line(s, run.deadline)
        if not line.startswith("OK "):
            raise Fail(f"connection {i}: CONNECT 6000 answered {line!r}")
    messages = [pattern_bytes(i * 1024, 1024) for i in range(conns)]
    backs = exchange(run, list(zip(socks, messages)), "echo on 64 connections")
    for i, (back, message) in enumerate(zip(backs, messages)):
        if back != message:
            raise Fail(f"connection {i}: the echo differs")
    for s in socks:
        s.close()
    run.wait_exit(0)
    run.expect(f"vsock: echo-server served {conns}")


def guest_sum(line, key="sum="):
    for word in line.split():
        if word.startswith(key):
            return int(word[len(key):], 16)
    raise Fail(f"no {key} in {line!r}")


def send_case(run, total, close_after=None):
    """The guest sends `total` pattern bytes to host port 5001 (vsock-send)."""
    listener = run.listen(5001)
    result = {}

    def sink():
        conn = run.accept(listener, "the guest's connection to port 5001")
        check = StreamCheck()
        started = time.monotonic()
        conn.settimeout(0.5)
        while True:
            run.check_time("receiving the guest's stream")
            try:
                data = conn.recv(262144)
            except socket.timeout:
                continue
            if not data:
                break
            check.feed(data)
            if close_after is not None and check.length >= close_after:
                result["closed_at"] = check.length
                conn.close()
                return
        elapsed = time.monotonic() - started
        check.finish()
        conn.settimeout(max(run.remaining(), 0.1))
        conn.sendall(struct.pack("<Q", check.sum()))
        conn.close()
        result.update(bytes=check.length, sum=check.sum(), bad=check.bad, seconds=elapsed)

    run.thread(sink)
    run.start(f"mode=vsock-send vsock.bytes={total}")
    if close_after is not None:
        run.wait_exit(0)
        run.expect_prefix("vsock: send ended early bytes=")
        if "closed_at" not in result:
            raise Fail("the host never got to close the connection")
        run.notes.append(f"host closed after {result['closed_at']} bytes; "
                         + run.expect_prefix("vsock: send ended early").split("vsock: ")[1])
        return
    run.wait_exit(0)
    line = run.expect_prefix("vsock: sent bytes=")
    run.expect("vsock: send ok")
    if "bytes" not in result:
        raise Fail("the host side never finished receiving")
    if result["bytes"] != total or result["bad"] != 0:
        raise Fail(f"the host received {result['bytes']} bytes, {result['bad']} bad words; expected {total}")
    if guest_sum(line) != result["sum"] or result["sum"] != pattern_sum(total // 4):
        raise Fail(f"sums differ: guest {line!r}, host 0x{result['sum']:x}, pattern 0x{pattern_sum(total // 4):x}")
    seconds = max(result["seconds"], 1e-6)
    run.notes.append(f"{total} bytes in {seconds:.2f} s, {total / seconds / 1e6:.2f} MB/s")


def recv_case(run, total, close_after=None):
    """The host sends `total` pattern bytes to guest port 6001 (vsock-recv)."""
    run.start(f"mode=vsock-recv vsock.bytes={total}")
    run.wait_line("vsock: listening port=6001")
    s = run.connect(6001)
    started = time.monotonic()
    sent = 0
    limit = total if close_after is None else min(total, close_after)
    try:
        for block in pattern_stream(limit):
            s.settimeout(max(run.remaining(), 0.1))
            s.sendall(block)
            sent += len(block)
    except socket.timeout:
        raise Fail(f"timeout sending: {sent} of {limit} bytes taken")
    if close_after is not None:
        s.close()
        run.wait_exit(0)
        line = run.expect_prefix("vsock: recv ended early bytes=")
        run.notes.append(f"host sent {sent} bytes and closed; " + line.split("vsock: ")[1])
        return
    s.shutdown(socket.SHUT_WR)
    reply = b""
    done_at = None
    s.settimeout(0.5)
    while True:
        run.check_time("waiting for the guest's checksum")
        try:
            data = s.recv(64)
        except socket.timeout:
            continue
        if not data:
            break
        reply += data
        if len(reply) >= 8 and done_at is None:
            done_at = time.monotonic()
    elapsed = (done_at or time.monotonic()) - started
    s.close()
    run.wait_exit(0)
    line = run.expect_prefix("vsock: received bytes=")
    run.expect("vsock: recv ok")
    expected = pattern_sum(total // 4)
    if len(reply) != 8:
        raise Fail(f"the guest's checksum reply has {len(reply)} bytes, expected 8")
    (sum_back,) = struct.unpack("<Q", reply)
    if sum_back != expected or guest_sum(line) != expected:
        raise Fail(f"sums differ: guest sent 0x{sum_back:x}, printed {line!r}, pattern 0x{expected:x}")
    seconds = max(elapsed, 1e-6)
    run.notes.append(f"{total} bytes in {seconds:.2f} s, {total / seconds / 1e6:.2f} MB/s")


def case_send_64m(run):
    send_case(run, run.args.bytes)


def case_recv_64m(run):
    recv_case(run, run.args.bytes)


def case_shutdown_g2h(run):
    send_case(run, 4096)


def case_shutdown_h2g(run):
    recv_case(run, 4096)


def case_host_close_g2h(run):
    send_case(run, 64 << 20, close_after=1 << 20)


def case_host_close_h2g(run):
    recv_case(run, 64 << 20, close_after=1 << 20)


def case_refused(run):
    run.start("mode=vsock-refused")
    run.wait_exit(0)
    run.expect("vsock: refused ok")


def case_hostile(run):
    run.thread(echo_listener, run, run.listen(5000))
    run.start("mode=vsock-hostile")
    run.wait_exit(0)
    for name in ("huge-len", "unknown-op", "rw-unknown", "credit-lie", "bad-cid"):
        run.expect(f"vsock: hostile {name} rst=1")
    run.expect("vsock: hostile short-header sent")
    run.expect("vsock: hostile recovered=1")
    if "vsock: hostile short-header needs-reset=1" in run.output():
        run.notes.append("short-header: the device set NEEDS_RESET")


def case_ready(run):
    run.start("mode=vsock-ready", ["--ready-port", "7000", "--boot-timeout", "30"])
    run.wait_exit(0)
    run.expect("vsock: ready connected")
    if not any("guest ready" in line for line in run.stderr):
        raise Fail("brig's standard error has no 'guest ready'")


def case_never_ready(run):
    failure = os.path.join(run.dir, "failure")
    run.start("mode=spin", ["--ready-port", "7000", "--boot-timeout", "3", "--failure-file", failure])
    run.wait_exit(36)
    try:
        with open(failure) as f:
            record = f.read()
    except OSError as e:
        raise Fail(f"no failure file: {e}")
    if not record.startswith("HANGUP"):
        raise Fail(f"the failure file says {record.strip()!r}, expected HANGUP ...")
    run.notes.append(record.strip())


def case_flood_g2h(run):
    raise_fd_limit()
    count = 2000
    held = {"accepted": 0, "open": 0, "max_open": 0}
    run.thread(hold_listener, run, run.listen(5002), held)
    run.start(f"mode=vsock-flood vsock.count={count}")
    run.wait_line("brig-test-guest: start")
    run.fd_baseline = fd_count(run.proc.pid)
    run.thread(run.sample_fds)
    run.wait_exit(0)
    line = run.expect_prefix(f"vsock: flood sent {count} ")
    run.fd_check()
    run.notes.append(line.split("vsock: ")[1])
    answered = sum(int(word.split("=")[1]) for word in line.split() if word.startswith(("responses=", "resets=")))
    if answered < count:
        run.notes.append(f"{count - answered} REQUESTs never answered (the guest waited out its bound)")
    run.notes.append(f"host accepted {held['accepted']}, at most {held['max_open']} open")


def case_flood_h2g(run):
    raise_fd_limit()
    per_kind = 1000
    run.start("mode=vsock-echo-server vsock.conns=1")
    run.wait_line("vsock: listening port=6000")
    run.fd_baseline = fd_count(run.proc.pid)
    run.thread(run.sample_fds)
    # 1000 that never speak, held open; those that find brig's backlog full are refused at once.
    silent, backlog_full = [], 0
    for _ in range(per_kind):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(run.sock)
            silent.append(s)
        except (BlockingIOError, ConnectionRefusedError):
            backlog_full += 1
            s.close()
    # 1000 that say CONNECT 9 (no listener in the guest), each retried while the backlog is
    # full (brig drops a silent one after its handshake timeout), all the while watching for
    # brig closing them: each must end without an OK.
    sel = selectors.DefaultSelector()
    got = {}
    opened = closed = retries = 0
    group_end = time.monotonic() + min(90, max(run.remaining() - 20, 1))

    def drain(timeout):
        nonlocal closed
        for key, _ in sel.select(timeout=timeout):
            s = key.fileobj
            try:
                data = s.recv(256)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                got[s] += data
                continue
            sel.unregister(s)
            s.close()
            closed += 1

    while opened < per_kind and time.monotonic() < group_end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(run.sock)
            s.send(b"CONNECT 9\n")
        except (BlockingIOError, ConnectionRefusedError, BrokenPipeError, ConnectionResetError):
            s.close()
            retries += 1
            drain(0.01)
            continue
        got[s] = b""
        sel.register(s, selectors.EVENT_READ)
        opened += 1
        drain(0)
    if opened < per_kind:
        raise Fail(f"only {opened} of {per_kind} CONNECT 9 connections got in within 90 s")
    while closed < opened and time.monotonic() < group_end + 30:
        drain(0.5)
    sel.close()
    oks = sum(1 for data in got.values() if data.startswith(b"OK"))
    if oks:
        raise Fail(f"{oks} of the CONNECT 9 connections were answered OK")
    if closed < opened:
        raise Fail(f"{opened - closed} of {opened} CONNECT 9 connections still open 30 s after the last")
    # One good connection still works.
    s = run.connect(6000)
    data = pattern_bytes(0, BLOCK_WORDS)
    (back,) = exchange(run, [(s, data)], "echo after the flood")
    if back != data:
        raise Fail("the echo after the flood differs")
    s.close()
    for t in silent:
        t.close()
    run.wait_exit(0)
    run.expect("vsock: echo-server served 1")
    run.fd_check()
    run.notes.append(f"silent: {len(silent)} held (+{backlog_full} refused at connect); CONNECT 9: {opened} "
                     f"closed by brig without OK ({retries} connects retried on a full backlog)")


CASES = {
    "echo-g2h": case_echo_g2h,
    "echo-h2g": case_echo_h2g,
    "many": case_many,
    "send-64m": case_send_64m,
    "recv-64m": case_recv_64m,
    "shutdown-g2h": case_shutdown_g2h,
    "shutdown-h2g": case_shutdown_h2g,
    "refused": case_refused,
    "host-close-g2h": case_host_close_g2h,
    "host-close-h2g": case_host_close_h2g,
    "hostile": case_hostile,
    "ready": case_ready,
    "never-ready": case_never_ready,
    "flood-g2h": case_flood_g2h,
    "flood-h2g": case_flood_h2g,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brig")
    parser.add_argument("--guest")
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case (default 120)")
    parser.add_argument("--bytes", type=int, default=64 << 20,
                        help="bytes for send-64m and recv-64m (default 67108864, a multiple of 4)")
    parser.add_argument("--brig-arg", action="append", default=[], help="one more argument for brig run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--verbose", action="store_true", help="show brig's command line and output as it comes")
    parser.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("--self-test", action="store_true", help="check the checksum code and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if args.self_test:
        self_test()
        return 0
    if not (args.brig and args.guest and args.case):
        parser.error("--brig, --guest and --case are required")
    if args.bytes <= 0 or args.bytes % 4:
        parser.error("--bytes must be a positive multiple of 4")
    run = Run(args, args.case)
    try:
        CASES[args.case](run)
        run.raise_thread_errors()
    except Fail as e:
        run.settle()
        print(f"FAIL {args.case}: {e}")
        print("--- guest serial output ---")
        for line in run.output():
            print(line)
        print("--- brig stderr (last 40 lines) ---")
        for line in run.stderr[-40:]:
            print(line)
        if args.keep:
            print(f"--- kept {run.dir}")
        return 1
    finally:
        run.cleanup()
    elapsed = time.monotonic() - run.start_time
    notes = "; ".join(run.notes)
    print(f"PASS {args.case} ({elapsed:.1f} s{'; ' + notes if notes else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
