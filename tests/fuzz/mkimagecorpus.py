#!/usr/bin/env python3
"""Write the seed corpus of fuzz_image_probe from images made by the real qemu-img.

Each image is stored twice: its first 64 KiB as plain bytes (trailing zeros cut), and the whole image as a
"QVSPARSE" file (see fuzz_image_probe.c) holding only its non-zero 512-byte sectors,
so a multi-megabyte VHDX or a VMDK with a far descriptor stays a few KiB.

    tests/fuzz/mkimagecorpus.py [OUTDIR]   (default: tests/fuzz/corpus/fuzz_image_probe)
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "fuzz_image_probe")
PLAIN_MAX = 64 * 1024
SECTOR = 512


def qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, stdout=subprocess.DEVNULL)


def plain(data):
    """The first 64 KiB, without the zero sectors at its end (at least one sector)."""
    head = data[:PLAIN_MAX]
    end = max(len(head.rstrip(b"\0")), 1)
    return head[:min(len(head), (end + SECTOR - 1) // SECTOR * SECTOR)]


def sparse(data, limit=None):
    """QVSPARSE: u64 size, then (u64 offset, u32 len, bytes) runs of non-zero sectors.
    When that exceeds 64 KiB (random LUKS key material), only the first 64 KiB of the
    image, where every header lives, is described."""
    if limit is None:
        out = sparse(data, len(data))
        return out if len(out) <= PLAIN_MAX else sparse(data, PLAIN_MAX)
    out = bytearray(b"QVSPARSE" + struct.pack("<Q", len(data)))
    run_start = None
    for off in range(0, len(data) + SECTOR, SECTOR):
        nonzero = off < min(len(data), limit) and any(data[off:off + SECTOR])
        if nonzero and run_start is None:
            run_start = off
        elif not nonzero and run_start is not None:
            chunk = data[run_start:off]
            out += struct.pack("<QI", run_start, len(chunk)) + chunk
            run_start = None
    return bytes(out)


def images(tmp):
    """(name, path) of every image to seed with."""
    p = lambda n: os.path.join(tmp, n)
    qemu_img("create", "-q", "-f", "raw", p("base.raw"), "1M")
    qemu_img("create", "-q", "-f", "qcow2", p("base.qcow2"), "16M")
    yield "qcow2-plain", p("base.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "-o", "compat=0.10", p("v2.qcow2"), "16M")
    yield "qcow2-v2", p("v2.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", p("ov.qcow2"))
    yield "qcow2-backing-fmt", p("ov.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "/var/lib/img/base.raw", "-F", "raw",
             "-o", "extended_l2=on,compression_type=zstd", p("ov2.qcow2"), "1G")
    yield "qcow2-extl2-zstd-raw-backing", p("ov2.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "-o", "data_file=" + p("data.raw"),
             p("ext.qcow2"), "4M")
    yield "qcow2-data-file", p("ext.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=abc",
             "-o", "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10",
             p("enc.qcow2"), "4M")
    yield "qcow2-luks", p("enc.qcow2")
    qemu_img("create", "-q", "-f", "qcow", "-b", "base.raw", "-F", "raw", p("ov.qcow"), "1M")
    yield "qcow1-backing", p("ov.qcow")
    qemu_img("create", "-q", "-f", "qed", "-b", "base.qcow2", "-F", "qcow2", p("ov.qed"))
    yield "qed-backing", p("ov.qed")
    qemu_img("create", "-q", "-f", "qed", p("plain.qed"), "8M")
    yield "qed-plain", p("plain.qed")
    qemu_img("create", "-q", "-f", "vmdk", p("sparse.vmdk"), "8M")
    yield "vmdk-monolithic-sparse", p("sparse.vmdk")
    qemu_img("create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", p("so.vmdk"), "8M")
    yield "vmdk-stream-optimized", p("so.vmdk")
    qemu_img("create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", p("flat.vmdk"), "1M")
    yield "vmdk-descriptor-flat", p("flat.vmdk")
    qemu_img("create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
             p("split.vmdk"), "3G")
    yield "vmdk-descriptor-split", p("split.vmdk")
    qemu_img("create", "-q", "-f", "vmdk", "-b", "sparse.vmdk", "-F", "vmdk", p("ov.vmdk"))
    yield "vmdk-backing", p("ov.vmdk")
    qemu_img("create", "-q", "-f", "vpc", p("dyn.vhd"), "8M")
    yield "vpc-dynamic", p("dyn.vhd")
    qemu_img("create", "-q", "-f", "vpc", "-o", "subformat=fixed", p("fixed.vhd"), "1M")
    yield "vpc-fixed", p("fixed.vhd")
    qemu_img("create", "-q", "-f", "vdi", p("d.vdi"), "8M")
    yield "vdi", p("d.vdi")
    qemu_img("create", "-q", "-f", "vhdx", p("d.vhdx"), "8M")
    yield "vhdx", p("d.vhdx")
    qemu_img("create", "-q", "-f", "luks", "--object", "secret,id=s0,data=abc",
             "-o", "key-secret=s0,iter-time=10", p("d.luks"), "1M")
    yield "luks", p("d.luks")
    # An ISO 9660 primary volume descriptor ("CD001" at 32769), no tool needed.
    with open(p("cd.iso"), "wb") as f:
        f.write(b"\0" * 32768 + b"\x01CD001\x01" + b"\0" * 2041)
    yield "iso", p("cd.iso")


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in images(tmp):
            with open(path, "rb") as f:
                data = f.read()
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(plain(data))
            with open(os.path.join(OUT, name + ".sparse"), "wb") as f:
                f.write(sparse(data))
    print("wrote", len(os.listdir(OUT)), "files to", OUT)


if __name__ == "__main__":
    main()
