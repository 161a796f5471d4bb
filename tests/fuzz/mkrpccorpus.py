#!/usr/bin/env python3
"""Write hand-made seeds of fuzz_rpc_packet (the bad-input cases of the protocol), and
optionally import client->server streams captured from the real virsh and
python3-libvirt (a unix socket proxy logging what the client sent, e.g. in front of
libvirt 9.0's session daemon):

    tests/fuzz/mkrpccorpus.py [--capture DIR]

Every seed exists twice: byte 0 = 1 (sent to an in-process server) and byte 0 = 0
(the packet functions alone).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_rpc_packet")
REMOTE, KEEPALIVE = 0x20008086, 0x6B656570
CALL, REPLY, MESSAGE, STREAM, STREAM_HOLE = 0, 1, 2, 3, 6
CONTINUE = 2


def string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def packet(proc, body=b"", prog=REMOTE, vers=1, typ=CALL, serial=1, status=0):
    hdr = struct.pack(">IIiIII", prog, vers, proc, typ, serial, status)
    return struct.pack(">I", 4 + len(hdr) + len(body)) + hdr + body


OPEN = packet(1, struct.pack(">I", 1) + string("qemu:///system") + struct.pack(">I", 0), serial=0)
UUID = bytes(range(16))
DOM = string("demo") + UUID + struct.pack(">i", -1)

SEEDS = {
    "open-gettype": OPEN + packet(3, serial=1),
    "open-features": OPEN + b"".join(packet(60, struct.pack(">i", f), serial=i)
                                     for i, f in enumerate([2, 9, 10, 14, 15, 99], 1)),
    "keepalive-ping": packet(1, prog=KEEPALIVE, typ=MESSAGE, serial=0) + OPEN,
    "keepalive-bad-version": packet(1, prog=KEEPALIVE, vers=2, typ=MESSAGE) + OPEN,
    "call-before-open": packet(3) + packet(23, string("demo"), serial=2),
    "wrong-program": packet(1, prog=0x20008087) + OPEN,
    "wrong-version": packet(1, vers=2) + OPEN,
    "reply-from-client": OPEN + packet(3, typ=REPLY, serial=5),
    "call-with-fds": OPEN + packet(3, typ=4, serial=2),
    "status-error": OPEN + packet(3, status=1, serial=2),
    "unknown-proc": OPEN + packet(9999, serial=2) + packet(443, serial=3) + packet(-1, serial=4),
    "short-length": struct.pack(">I", 27) + b"\0" * 24,
    "huge-length": struct.pack(">I", 32 * 1024 * 1024 + 1) + b"\0" * 24,
    "length-16MiB-plus": struct.pack(">I", 16 * 1024 * 1024 + 4) + OPEN[4:],
    "truncated-xdr": OPEN + packet(23, b"\0\0\0\x10de", serial=2),
    "string-past-packet": OPEN + packet(23, struct.pack(">I", 0x7FFFFFFF) + b"demo", serial=2),
    "trailing-args": OPEN + packet(3, b"\0\0\0\0", serial=2),
    "lookup-define-undefine": OPEN
    + packet(23, string("demo"), serial=2)
    + packet(24, UUID, serial=3)
    + packet(350, string("<domain type='qemu'><name>x</name></domain>") + b"\0\0\0\0", serial=4)
    + packet(231, DOM + b"\0\0\0\0", serial=5),
    "list-all": OPEN + packet(273, struct.pack(">iI", 1, 0), serial=2)
    + packet(37, struct.pack(">i", 16384), serial=3) + packet(37, struct.pack(">i", -1), serial=4),
    "many-in-flight": OPEN + b"".join(packet(3, serial=i) for i in range(1, 20)),
    "close-then-call": OPEN + packet(2, serial=1) + packet(3, serial=2),
    "partial-packet": OPEN + packet(3, serial=1)[:17],
    # stream packets no stream waits for are dropped; calls after them are answered
    "stream-stray": OPEN + packet(3, serial=1)
    + packet(3, b"data", typ=STREAM, serial=1, status=CONTINUE)
    + packet(3, typ=STREAM, serial=1, status=1) + packet(3, typ=STREAM, serial=1)
    + packet(3, struct.pack(">qI", 1 << 20, 0), typ=STREAM_HOLE, serial=9, status=CONTINUE)
    + packet(3, serial=2),
    "stream-other-version": OPEN + packet(3, typ=STREAM, vers=2, serial=1) + packet(3, serial=2),
    # bodies decoded as their procedure's generated types (the packets mode)
    "typed-bodies": OPEN
    + packet(344, struct.pack(">I", 1) + DOM + struct.pack(">II", 0, 0), serial=2)
    + packet(316, struct.pack(">iI", 8, 1) + DOM, serial=3)
    + packet(251, DOM + string("vda") + struct.pack(">QI", 1 << 30, 0), serial=4)
    + packet(243, struct.pack(">I", 2) + string("rd_bytes") + struct.pack(">iq", 3, 7)
             + string("x") + struct.pack(">i", 7) + string("s") + struct.pack(">i", 2),
             typ=REPLY, serial=5),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    items = dict(SEEDS)
    if len(sys.argv) == 3 and sys.argv[1] == "--capture":
        for name in sorted(os.listdir(sys.argv[2])):
            with open(os.path.join(sys.argv[2], name), "rb") as f:
                items["capture-" + name] = f.read()
    for name, data in items.items():
        for mode, suffix in ((1, ""), (0, ".packets")):
            with open(os.path.join(OUT, name + suffix), "wb") as f:
                f.write(bytes([mode]) + data)
    print("wrote", 2 * len(items), "seeds to", OUT)


if __name__ == "__main__":
    main()
