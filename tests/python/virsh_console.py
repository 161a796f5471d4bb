"""virsh_console.py URI DOMAIN: drive `virsh console` under pseudo-terminals and the
console and screenshot streams of python3-libvirt, against a running guest that prints
QVIRT-COUNT lines and runs the shell lines it reads on its serial console.

Prints one line per step ("STEP ok ..." or "STEP FAIL ..."); virshguesttest.c checks them.
"""
import os
import pty
import select
import sys
import time

import libvirt

URI, DOM = sys.argv[1], sys.argv[2]
TIMEOUT = 60


class Console:
    """virsh console under its own pseudo-terminal."""

    def __init__(self, *extra):
        env = dict(os.environ, LC_ALL="C")
        env.pop("LIBVIRT_DEFAULT_URI", None)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe("virsh", ["virsh", "-c", URI, "console", DOM] + list(extra), env)
        self.out = b""
        self.status = None

    def read_until(self, what, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while what.encode() not in self.out:
            left = deadline - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: virsh has exited
                return what.encode() in self.out
            if not data:
                return what.encode() in self.out
            self.out += data
        return True

    def write(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.read_until("\0never\0", 0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        return None

    def tail(self):
        return self.out[-300:].decode(errors="replace").replace("\r", "").replace("\n", "|")


def step(name, ok, detail=""):
    print("%s %s %s" % (name, "ok" if ok else "FAIL", detail), flush=True)


a = Console()
step("a-connected", a.read_until("Escape character is") and a.read_until("QVIRT-COUNT"),
     a.tail())
# the guest's shell runs what we type: input reaches it through the stream
a.write(b"echo QVIRT-ECHO-$((6*7))\r")
step("a-input", a.read_until("QVIRT-ECHO-42"), a.tail())

b = Console()
rc = b.wait()
step("b-refused", rc not in (None, 0) and b"Active console session exists for this domain"
     in b.out, "rc=%s %s" % (rc, b.tail()))

c = Console("--force")
step("c-connected", c.read_until("QVIRT-COUNT"), c.tail())
rc = a.wait()
step("a-taken-over", rc == 0, "rc=%s %s" % (rc, a.tail()))

c.write(b"\x1d")  # ^], virsh's escape
rc = c.wait(15)
step("c-escape", rc == 0, "rc=%s %s" % (rc, c.tail()))

d = Console("nosuch")
rc = d.wait()
step("d-nosuch", rc not in (None, 0) and b"cannot find character device nosuch" in d.out,
     "rc=%s %s" % (rc, d.tail()))

conn = libvirt.open(URI)
dom = conn.lookupByName(DOM)
st = conn.newStream(0)
dom.openConsole(None, st, 0)
got = b""
deadline = time.time() + TIMEOUT
sent = False
while time.time() < deadline and b"QVIRT-PY-42" not in got:
    data = st.recv(4096)
    if not data:
        break
    got += data
    if not sent and b"QVIRT-COUNT" in got:
        st.send(b"echo QVIRT-PY-$((7*6))\n")
        sent = True
st.finish()
step("py-console", b"QVIRT-PY-42" in got, got[-200:].decode(errors="replace").replace("\n", "|"))

st = conn.newStream(0)
mime = dom.screenshot(st, 0, 0)
img = b""
while True:
    data = st.recv(65536)
    if not data:
        break
    img += data
st.finish()
step("py-screenshot", mime == "image/png" and img.startswith(b"\x89PNG\r\n\x1a\n"),
     "%s %d bytes" % (mime, len(img)))
