# SPDX-License-Identifier: Apache-2.0
"""scripts/check-layout.py finds what it promises to find: each kind of
finding is planted in a small tree of its own and reported with its exact
line, and a tree without any is accepted (the real tree is checked by the
layout/check ctest entry)."""
import shutil

from conftest import SOURCE_DIR, run

SCRIPT = SOURCE_DIR / "scripts" / "check-layout.py"


def tree(tmp_path, files):
    """A minimal repository: the public error header and the given files."""
    (tmp_path / "include" / "cloister").mkdir(parents=True)
    shutil.copy(SOURCE_DIR / "include" / "cloister" / "error.h",
                tmp_path / "include" / "cloister" / "error.h")
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def check(root):
    proc = run(["/usr/bin/python3", SCRIPT, root])
    return proc.returncode, proc.stdout.splitlines()


CLEAN = {
    "src/lib/base/hex.h": "int hex(void);\n",
    "src/lib/base/hex.c": '#include "base/hex.h"\n\n#include <cloister/error.h>\n\nint hex(void)\n{\n    return 0;\n}\n',
    "src/lib/eif/pcr.c": '#include "base/hex.h"\n\nint pcr(void)\n{\n    return hex();\n}\n',
}


def test_a_clean_tree_passes(tmp_path):
    code, out = check(tree(tmp_path, CLEAN))
    assert code == 0, out
    assert out == ["check-layout: 4 files, layout as documented"]


def test_an_include_against_the_rules(tmp_path):
    files = dict(CLEAN)
    files["src/lib/image/image.h"] = "int image(void);\n"
    files["src/lib/base/hex.c"] = '#include "base/hex.h"\n#include "image/image.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert "src/lib/base/hex.c:2: lib/base may not include lib/image (image/image.h)" in out


def test_the_sdk_may_not_include_the_host_library(tmp_path):
    files = dict(CLEAN)
    files["src/lib/vsock_broker/vsock_broker.h"] = "int broker(void);\n"
    files["src/lib/vsock/vsock.c"] = '#include "vsock_broker/vsock_broker.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert ("src/lib/vsock/vsock.c:1: lib/vsock may not include lib/vsock_broker "
            "(vsock_broker/vsock_broker.h)") in out


def test_the_runtime_may_not_include_the_cli(tmp_path):
    files = dict(CLEAN)
    files["src/cli/cli.h"] = "int cli(void);\n"
    files["src/runtime/rt_x.c"] = '#include "../cli/cli.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert "src/runtime/rt_x.c:1: runtime may not include cli (../cli/cli.h)" in out


def test_kms_layers_only_call_downward(tmp_path):
    files = dict(CLEAN)
    files["src/kms/serve/dispatch.h"] = "int dispatch(void);\n"
    files["src/kms/ops/keys.c"] = '#include "serve/dispatch.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert "src/kms/ops/keys.c:1: kms/ops may not include kms/serve (serve/dispatch.h)" in out


def test_spelling_unresolved_and_cycles(tmp_path):
    files = dict(CLEAN)
    files["src/lib/base/num.h"] = '#include "hex.h"\n'
    files["src/lib/base/log.c"] = '#include "base/missing.h"\n'
    files["src/lib/base/a.h"] = '#include "base/b.h"\n'
    files["src/lib/base/b.h"] = '#include "base/a.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert 'src/lib/base/num.h:1: include libcloister headers by folder: "base/hex.h"' in out
    assert ('src/lib/base/log.c:1: #include "base/missing.h" does not resolve to a file '
            'of the repository') in out
    assert "include cycle: src/lib/base/a.h -> src/lib/base/b.h -> src/lib/base/a.h" in out


def test_sizes_and_the_stated_reason(tmp_path):
    files = dict(CLEAN)
    body = "".join(f"    x += {i};\n" for i in range(130))
    files["src/lib/base/long.c"] = f"int f(int x)\n{{\n{body}    return x;\n}}\n"
    files["src/lib/base/reasoned.c"] = (f"/* long: a flat table */\nint g(int x)\n{{\n{body}"
                                        "    return x;\n}\n")
    files["src/lib/base/big.c"] = "int v;\n" * 801
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert ("src/lib/base/long.c:1: f() is 134 lines (at most 120, or say why on the line "
            "before: /* long: ... */)") in out
    assert not any("reasoned.c" in line for line in out)
    assert "src/lib/base/big.c: 801 lines (at most 800)" in out


def test_citations_outside_the_repository(tmp_path):
    # spelled in pieces, or this very file would be a finding of the real check
    notes, shared = "re" + "search", "../" + "shared/"
    files = dict(CLEAN)
    files["src/lib/base/hex.c"] = CLEAN["src/lib/base/hex.c"] + f"/* see {notes}/notes.md */\n"
    files["docs/x.md"] = f"As {shared}blueprint.md says.\n"
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert f"src/lib/base/hex.c:9: names a path outside the repository ({notes})" in out
    assert f"docs/x.md:1: names a path outside the repository ({shared})" in out


def test_angle_brackets_on_a_header_of_the_repository(tmp_path):
    # src/lib is on every program's include path: <image/image.h> compiles
    # in the key service, and is still an include of libcloister
    files = dict(CLEAN)
    files["src/lib/image/image.h"] = "int image(void);\n"
    files["src/kms/main.c"] = "#include <stdio.h>\n#include <image/image.h>\n"
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert out == [
        "src/kms/main.c:2: include the repository's headers with quotes: \"image/image.h\"",
        "src/kms/main.c:2: kms may not include lib/image (image/image.h)",
    ]

def test_function_sizes_whatever_the_head(tmp_path):
    files = dict(CLEAN)
    body = "".join(f"    x += {i};\n" for i in range(150))
    files["src/lib/base/heads.c"] = (
        f"enum e long_fn(int x) {{\n{body}    return x;\n}}\n\n"
        f"const char *f(int x)\n{{\n{body}    return \"{{\";\n}}\n\n"
        f"static const char *g(int x,\n                     int y) {{\n{body}    return 0;\n}}\n\n"
        f"struct s h(void)\n{{\n{body}}}\n")
    # initialisers and type definitions are not functions, however long
    files["src/lib/base/tables.c"] = (
        "static const int table[] = {\n" + "    1,\n" * 150 + "};\n\n"
        "struct big {\n" + "".join(f"    int m{i};\n" for i in range(150)) + "};\n\n"
        "const struct big *const tables[] =\n{\n" + "    NULL,\n" * 150 + "};\n")
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert out == [
        f"src/lib/base/heads.c:{n}: {name}() is {length} lines (at most 120, or say why on the "
        "line before: /* long: ... */)"
        for n, name, length in ((1, "long_fn", 153), (155, "f", 154), (310, "g", 154),
                                (465, "h", 153))
    ]

