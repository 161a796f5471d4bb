#!/usr/bin/env python3
"""mksavecorpus.py DIR: seed files for fuzz_saveimage, in qvirt's save image layout
(src/qemu/qemu_saveimage.c): a valid image, one for a hot-plugged guest, one whose data
fails its checksum, one cut short."""
import hashlib
import os
import struct
import sys

XML = b"<domain type='qemu'><name>f</name><memory>65536</memory></domain>\n"


def image(xml, data, running=1, boot=0):
    off = (512 + len(xml) + 4095) // 4096 * 4096
    head = b"QvirtSaveImage\n\0" + struct.pack(">IIII", 1, running, len(xml), boot)
    head += struct.pack(">QQ", off, len(data))
    head += hashlib.sha256(xml).digest() + hashlib.sha256(data).digest()
    head += hashlib.sha256(head).digest()
    out = head.ljust(512, b"\0") + xml
    return out.ljust(off, b"\0") + data


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seeds = {
    "valid": image(XML, b"QEVM\0\0\0\3" + bytes(range(256)) * 4),
    "hotplugged-paused": image(XML, b"QEVM" * 100, running=0, boot=1),
    "bad-data-sum": image(XML, b"QEVM" * 100)[:-1] + b"X",
    "truncated": image(XML, b"QEVM" * 100)[:4200],
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
