#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that the tree keeps the layout docs/architecture.md describes.

Run from anywhere: scripts/check-layout.py [SOURCE_DIR]. `make check` runs it
(ctest entry layout/check). It reads every C file under src/, include/,
tests/, bench/ and examples/, resolves each #include to a file of the
repository (a quoted include as the compiler looks for it; an angle-bracket
include against include/ and the repository's folders the build puts on the
include path: src/lib, and src/kms, src/runtime, src/init for their programs
and the tests), and checks:

  1. dependencies: a component includes only what RULES lets it include
     (a component is a libcloister folder, a key-service layer or a program;
     a rule names components or single headers);
  2. spelling: a libcloister header is included by its folder
     ("eif/eif_json.h", never "eif_json.h"), a key-service header by its
     layer ("call/call.h"), a header of the repository with quotes (only
     the public include/cloister/ headers take <...>), every quoted
     include resolves to a file of the repository, every public header
     and every key-service folder has a rule;
  3. no include cycle between files;
  4. size: no C file over MAX_FILE_LINES lines, no function over
     MAX_FUNCTION_LINES lines unless the line before it says why
     ("/* long: <reason> */");
  5. no text cites material outside the repository (the design notes the
     project was started from, ../shared/ outside the tests' data lookups):
     what the code relies on is stated in docs/ with its public source.

It prints one line per finding and exits 1 when there is any.
"""
import os
import re
import sys

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 120

# libcloister: the SDK folders, then the host-only ones (src/lib/CMakeLists.txt).
SDK = ["base", "cose", "attest", "eif", "nsm", "vsock", "cms", "kms_client"]
HOST = ["nitro_cli", "image", "attest_ca", "nsm_device", "vsock_broker", "vsock_notify",
        "parent_env"]

# The libc-only subset (src/lib/CMakeLists.txt, cloister_libc: base/error.c,
# hex.c, num.c, the vsock/ folder, nsm/nsm_frame.c), header by header: the
# headers of those sources and the header-only pieces they use. What the
# static init, the preload library and cloister-nsm may include.
LIBC_ONLY = {
    "include/cloister/error.h", "src/lib/base/hex.h", "src/lib/base/num.h",
    "src/lib/base/byteorder.h",
    "include/cloister/vsock.h", "src/lib/vsock/vsock_core.h", "src/lib/vsock/vsock_proto.h",
    "src/lib/vsock/vsock_sys.h",
    "src/lib/nsm/nsm_frame.h", "src/lib/nsm/nsm_ioctl.h",
}

# The runtime's CLI side: the headers of the runtime that `cloister` uses to
# find, describe, attach to and terminate enclaves and to start the monitor.
# The monitor's and the sandbox's internals stay the runtime's own.
RUNTIME_CLI_SIDE = {
    "src/runtime/rt_cli.h", "src/runtime/rt_state.h", "src/runtime/rt_trace.h", "src/runtime/rt_cpus.h",
    "src/runtime/rt_util.h", "src/runtime/rt_monitor.h", "src/runtime/rt_allocator.h",
}


def lib(*names):
    return {"lib/" + n for n in names}


SDK_ALL = lib(*SDK)
HOST_ALL = SDK_ALL | lib(*HOST)

# component -> the components (or single files, by path) it may include;
# itself always.
RULES = {
    # the SDK: each folder over the ones before it
    "lib/base": set(),
    "lib/cose": lib("base"),
    "lib/attest": lib("base", "cose"),
    "lib/eif": lib("base", "cose"),
    "lib/nsm": lib("base"),
    "lib/vsock": lib("base"),
    "lib/cms": lib("base"),
    "lib/kms_client": lib("base", "cms", "nsm", "vsock"),
    # host-only: over the SDK, never the other way round
    "lib/nitro_cli": lib("base"),
    "lib/image": lib("base", "eif"),
    "lib/attest_ca": lib("base", "cose", "attest"),
    "lib/nsm_device": lib("base", "nsm", "eif", "attest_ca"),
    "lib/vsock_broker": lib("base", "vsock"),
    "lib/vsock_notify": lib("base", "vsock"),
    "lib/parent_env": lib("base"),
    # programs
    "cli": HOST_ALL | RUNTIME_CLI_SIDE,
    "runtime": HOST_ALL,
    "runtime/preload": LIBC_ONLY,
    "runtime/probe": SDK_ALL,
    "init": LIBC_ONLY,
    "cloister-nsm": LIBC_ONLY | lib("nsm"),   # and libnsm's client, the nsm/ folder
    "nsm": HOST_ALL,                          # cloister-nsm-serve
    "proxy": lib("base", "vsock"),
    "kmstool": SDK_ALL,
    "example": SDK_ALL,   # through the public headers only (PUBLIC_ONLY)
    "tests": None,   # anything
    "bench": None,
}

# Files that are a component of their own rather than their folder's.
FILE_COMPONENTS = {
    "src/nsm/cloister_nsm.c": "cloister-nsm",
}

# From the top (serving) to the bottom (state, shared helpers).
KMS_LAYERS = ["imds", "serve", "ops", "call", "policy", "state", "util"]


def kms_rules():
    """The key service in layers that only call downward (docs/kms.md, "Code layout")."""
    sdk = lib("base", "cose", "attest", "cms")
    for i, layer in enumerate(KMS_LAYERS):
        RULES["kms/" + layer] = sdk | {"kms/" + x for x in KMS_LAYERS[i + 1:]}
    # main.c and the flat files; serve_imds.c reads the host configuration
    # (instance id, parent role) that gives enclaves PCR3/PCR4
    RULES["kms"] = sdk | {"kms/" + x for x in KMS_LAYERS} | {"src/lib/nsm_device/hostconf.h"}
    kms = os.path.join(ROOT, "src/kms")
    if os.path.isdir(kms):
        for d in sorted(os.listdir(kms)):
            if os.path.isdir(os.path.join(kms, d)) and d not in KMS_LAYERS:
                findings.append(f"src/kms/{d}: a key-service folder that is not a layer "
                                "(KMS_LAYERS in scripts/check-layout.py, docs/kms.md \"Code layout\")")


# Components that may use libcloister only through include/cloister/.
PUBLIC_ONLY = {"example"}

PUBLIC = {
    "error.h": "lib/base", "eif.h": "lib/eif", "attestation.h": "lib/attest",
    "nsm.h": "lib/nsm", "vsock.h": "lib/vsock", "kms.h": "lib/kms_client",
}

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
findings = []


def rel(path):
    return os.path.relpath(path, ROOT)


def component(path):
    """The component a file belongs to; None for a public header PUBLIC does not know."""
    r = rel(path)
    if r in FILE_COMPONENTS:
        return FILE_COMPONENTS[r]
    parts = r.split(os.sep)
    if parts[0] == "include":
        return PUBLIC.get(parts[-1])
    if parts[0] == "src":
        if parts[1] == "lib":
            return "lib/" + parts[2] if len(parts) > 3 else "lib"
        if parts[1] == "kms":
            return "kms/" + parts[2] if len(parts) > 3 else "kms"
        if parts[1] == "runtime" and len(parts) > 3:
            return "runtime/" + parts[2]
        return parts[1]
    if parts[0] == "examples":
        return "example"
    return parts[0]


def include_roots(path):
    """Where a quoted include of this file is looked for, in order."""
    r = rel(path).split(os.sep)
    roots = [os.path.dirname(path)]
    if r[0] == "src" and r[1] not in ("lib",):
        roots.append(os.path.join(ROOT, "src", r[1]))
    if r[0] == "src" and r[1] == "cli":
        roots.append(os.path.join(ROOT, "src/runtime"))
    if r[0] == "tests":
        roots.append(os.path.join(ROOT, "tests/unit"))
        if len(r) > 3 and r[1] in ("unit", "fuzz") and os.path.isdir(os.path.join(ROOT, "src", r[2])):
            roots.append(os.path.join(ROOT, "src", r[2]))
        for prog in ("runtime", "init", "proxy"):
            roots.append(os.path.join(ROOT, "src", prog))
    roots.append(os.path.join(ROOT, "src/lib"))
    return roots


def angle_roots(path):
    """The repository's folders on the compiler's include path for this file
    (the targets' PUBLIC include directories, src/*/CMakeLists.txt): where an
    #include <...> other than <cloister/...> could land inside the repository."""
    r = rel(path).split(os.sep)
    me = component(path) or ""
    roots = [os.path.join(ROOT, "src/lib")]
    if me == "kms" or me.startswith("kms/") or r[0] == "tests":
        roots.append(os.path.join(ROOT, "src/kms"))
    if me in ("cli", "runtime") or r[0] == "tests":
        roots.append(os.path.join(ROOT, "src/runtime"))
    if r[0] == "tests":
        roots.append(os.path.join(ROOT, "src/init"))
    return roots


INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)


def c_files():
    for top in ("src", "include", "tests", "bench", "examples"):
        for dp, dn, fn in os.walk(os.path.join(ROOT, top)):
            dn[:] = sorted(d for d in dn if d != "corpus")   # one order: the report's
            for f in sorted(fn):
                if f.endswith((".c", ".h")):
                    yield os.path.join(dp, f)


def resolve(path, kind, name):
    if kind == "<":
        if name.startswith("cloister/"):
            p = os.path.join(ROOT, "include", name)
            return p if os.path.exists(p) else None
        for root in angle_roots(path):
            p = os.path.normpath(os.path.join(root, name))
            if os.path.isfile(p):
                return p
        return "system"
    for root in include_roots(path):
        p = os.path.normpath(os.path.join(root, name))
        if os.path.exists(p):
            return p
    return None


def spelling(target):
    """How a header of the repository is included: (the spelling, what it is
    included by), or None when any resolvable spelling will do (a program's
    own headers, by name)."""
    r = rel(target)
    if r.startswith("src/lib/"):
        return r[len("src/lib/"):], "libcloister headers by folder"
    if r.startswith("src/kms/") and r.count("/") == 3:
        return r[len("src/kms/"):], "key-service headers by layer"
    return None


def partly_allowed(allowed):
    """The components a rule allows some headers of, by path."""
    return {component(os.path.join(ROOT, a)) for a in allowed if a.startswith(("src/", "include/"))}


def check_includes(files):
    graph = {}
    for path in files:
        text = open(path, encoding="utf-8", errors="replace").read()
        me = component(path)
        if me is None:
            findings.append(f"{rel(path)}: a public header with no component "
                            "(PUBLIC in scripts/check-layout.py)")
        allowed = RULES.get(me, set())
        edges = []
        for m in INCLUDE.finditer(text):
            kind, name = m.group(1), m.group(2)
            target = resolve(path, kind, name)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{rel(path)}:{line}"
            if target is None:
                close = ">" if kind == "<" else '"'
                findings.append(f"{where}: #include {kind}{name}{close} does not resolve to a file of the repository")
                continue
            if target == "system":
                continue
            edges.append(target)
            it = component(target)
            spelled = spelling(target)
            if kind == "<" and not name.startswith("cloister/"):
                good = spelled[0] if spelled else name
                findings.append(f"{where}: include the repository's headers with quotes: \"{good}\"")
            elif spelled and name != spelled[0]:
                findings.append(f"{where}: include {spelled[1]}: \"{spelled[0]}\"")
            if me in PUBLIC_ONLY and rel(target).startswith("src/lib/"):
                findings.append(f"{where}: {me} may use libcloister only through include/cloister/ ({name})")
                continue
            if me is None or it is None or it == me or allowed is None:
                continue
            if me not in RULES:
                findings.append(f"{where}: {me} has no dependency rule in scripts/check-layout.py")
                continue
            if it not in allowed and rel(target) not in allowed:
                what = rel(target) if it in partly_allowed(allowed) else it
                findings.append(f"{where}: {me} may not include {what} ({name})")
        graph[path] = edges
    # cycles
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                findings.append("include cycle: " + " -> ".join(rel(x) for x in cyc))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


# A function's head, once its lines are joined and its attributes removed:
# a return type, the name, the parameters; no ";" (a declaration) and no
# "=" (an initialiser) before the body's "{".
FUNC_START = re.compile(r'^(?:[A-Za-z_][\w \t\*]*?)\b([A-Za-z_]\w*)\s*\([^;{=]*\)\s*$')
ATTRIBUTE = re.compile(r'__attribute__\s*\(\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)\)')
LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|/\*.*?\*/|//.*$')


def function_name(head):
    """The name before the parameter list (the last parenthesised group)."""
    depth = 0
    for k in range(len(head) - 1, -1, -1):
        if head[k] == ")":
            depth += 1
        elif head[k] == "(":
            depth -= 1
            if depth == 0:
                m = re.search(r'([A-Za-z_]\w*)\s*$', head[:k])
                return m.group(1) if m else None
    return None


def block_end(lines, start):
    """The line of the "}" that closes the block opened on line start: a
    "}" at column 0, or the braces (outside literals and comments) back to 0."""
    depth = 0
    for k in range(start, len(lines)):
        if k > start and lines[k].startswith("}"):
            return k
        code = LITERAL.sub("", lines[k])
        depth += code.count("{") - code.count("}")
        if depth <= 0 and k > start:
            return k
    return len(lines) - 1


def definitions(lines):
    """Each top-level definition with a body: (first line, the line of its
    closing brace, the name of the function, or None when it is not one)."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if not re.match(r'[A-Za-z_]', line):
            i += 1
            continue
        # the head: this line and its indented continuations, up to the "{"
        head, j = line, i
        while "{" not in head and ";" not in head and j + 1 < len(lines):
            nxt = lines[j + 1]
            if nxt.startswith("{"):
                head += " " + nxt
                j += 1
            elif nxt.startswith((" ", "\t")) and nxt.strip():
                head += " " + nxt.strip()
                j += 1
            else:
                break
        before = head.split("{", 1)[0]
        if "{" not in head or ";" in before:
            i = j + 1
            continue
        end = block_end(lines, j)
        m = FUNC_START.match(ATTRIBUTE.sub("", before).strip())
        yield i, end, (function_name(ATTRIBUTE.sub("", before).strip()) if m else None)
        i = end + 1


def check_sizes(files):
    for path in files:
        lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) > MAX_FILE_LINES:
            findings.append(f"{rel(path)}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        if not path.endswith(".c"):
            continue
        for start, end, name in definitions(lines):
            length = end - start + 1
            before = lines[start - 1] if start > 0 else ""
            if name and length > MAX_FUNCTION_LINES and "long:" not in before:
                findings.append(f"{rel(path)}:{start + 1}: {name}() is {length} lines "
                                f"(at most {MAX_FUNCTION_LINES}, or say why on the line before: /* long: ... */)")


OUTSIDE = re.compile(r'\bresearch\b|\.\./shared/(?!testdata)|shared/(?:research|seeds)')


def check_references():
    for top in ("src", "include", "tests", "bench", "examples", "scripts", "docs", "debian",
                "README.md", "Makefile"):
        base = os.path.join(ROOT, top)
        paths = [base] if os.path.isfile(base) else [
            os.path.join(dp, f) for dp, dn, fn in os.walk(base)
            for f in fn if not dp.split(os.sep)[-1] == "corpus" and "corpus" not in dp.split(os.sep)]
        for p in paths:
            if p == os.path.abspath(__file__):
                continue
            try:
                text = open(p, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            for m in OUTSIDE.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                findings.append(f"{rel(p)}:{line}: names a path outside the repository ({m.group(0)})")


def main():
    kms_rules()
    files = list(c_files())
    check_includes(files)
    check_sizes(files)
    check_references()
    for f in findings:
        print(f)
    if findings:
        print(f"check-layout: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print(f"check-layout: {len(files)} files, layout as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
