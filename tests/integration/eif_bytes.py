# SPDX-License-Identifier: Apache-2.0
"""An EIF and its ramdisks read from their bytes, independently of
Cloister's own readers, for the build tests: the sections walked, the PCRs
recomputed with hashlib (docs/eif.md), the cpio archives parsed with the
rules nitro-cli's linuxkit writes them by (docs/build-enclave.md)."""
import hashlib
import stat
import struct
from collections import namedtuple

Z48 = b"\0" * 48


def sections(path):
    """[(section type, bytes)] in file order."""
    data = open(path, "rb").read()
    assert data[:4] == b".eif"
    n = struct.unpack(">H", data[26:28])[0]
    out, off = [], 548
    while off < len(data):
        typ, _, size = struct.unpack(">HHQ", data[off:off + 12])
        out.append((typ, data[off + 12:off + 12 + size]))
        off += 12 + size
    assert off == len(data) and len(out) == n
    return out


def pcr(content):
    return hashlib.sha384(Z48 + hashlib.sha384(content).digest()).hexdigest()


def measured(path):
    """PCR0, PCR1 and PCR2 of the EIF at path, from its sections."""
    s = sections(path)
    kernel, cmdline = [d for t, d in s if t == 1][0], [d for t, d in s if t == 2][0]
    rds = [d for t, d in s if t == 3]
    return {"PCR0": pcr(kernel + cmdline + b"".join(rds)), "PCR1": pcr(kernel + cmdline + rds[0]),
            "PCR2": pcr(b"".join(rds[1:]))}


def ramdisks(path):
    """The ramdisk sections' bytes: bootstrap, customer."""
    return [d for t, d in sections(path) if t == 3]


def metadata(path):
    return [d for t, d in sections(path) if t == 5][0]


Entry = namedtuple("Entry", "name mode uid gid nlink mtime ino data rdev")


def cpio_entries(buf):
    """newc as linuxkit's writer lays it out: [Entry] after checking what
    every header shares: ino 721, 722, ... (the trailer too), dev 3/1,
    check 0, nlink 2 for a directory and 1 otherwise, and the trailer
    followed by zeros up to a multiple of 512 bytes."""
    out, off, ino_next = [], 0, 721
    while True:
        h = buf[off:off + 110]
        assert h[:6] == b"070701", h[:6]
        f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        ino, mode, uid, gid, nlink, mtime, size, dmaj, dmin, rmaj, rmin, namesize, check = f
        assert (ino, dmaj, dmin, check) == (ino_next, 3, 1, 0)
        ino_next += 1
        name = buf[off + 110:off + 110 + namesize - 1].decode()
        assert buf[off + 110 + namesize - 1] == 0
        off = (off + 110 + namesize + 3) & ~3
        data = buf[off:off + size]
        off = (off + size + 3) & ~3
        if name == "TRAILER!!!":
            assert (mode, uid, gid, nlink, mtime, size, rmaj, rmin) == (0, 0, 0, 1, 0, 0, 0, 0)
            assert len(buf) % 512 == 0 and buf[off:] == bytes(len(buf) - off)
            return out
        assert nlink == (2 if stat.S_ISDIR(mode) else 1), name
        out.append(Entry(name, mode, uid, gid, nlink, mtime, ino, data, (rmaj, rmin)))


def first_difference(got, want):
    """Where two cpio archives part: the first header that differs (read
    leniently: got may be anything)."""
    def headers(buf):
        out, off = [], 0
        while off + 110 <= len(buf) and buf[off:off + 6] == b"070701":
            h = buf[off:off + 110]
            size, namesize = int(h[54:62], 16), int(h[94:102], 16)
            name = buf[off + 110:off + 110 + namesize - 1].decode(errors="replace")
            out.append((name, h))
            off = (((off + 110 + namesize + 3) & ~3) + size + 3) & ~3
            if name == "TRAILER!!!":
                break
        return out

    g, w = headers(got), headers(want)
    for i, (a, b) in enumerate(zip(g, w)):
        if a != b:
            return f"header {i} differs: got {a[0]!r} {a[1][6:].decode()}, want {b[0]!r} " \
                   f"{b[1][6:].decode()}"
    return f"{len(g)} headers against {len(w)}; the data of an entry or the padding differs"
