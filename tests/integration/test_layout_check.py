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


def test_the_libc_only_subset_is_a_list_of_headers(tmp_path):
    files = dict(CLEAN)
    files["src/lib/base/num.h"] = "int num(void);\n"
    files["src/lib/base/fileio.h"] = "int fileio(void);\n"
    files["src/lib/nsm/nsm_frame.h"] = "int frame(void);\n"
    files["src/lib/nsm/nsm_dev.h"] = "int dev(void);\n"
    files["src/init/init.c"] = '#include "base/hex.h"\n#include "base/fileio.h"\n'
    files["src/runtime/preload/preload.c"] = '#include "nsm/nsm_frame.h"\n#include "nsm/nsm_dev.h"\n'
    # cloister-nsm: the subset and libnsm's client; cloister-nsm-serve: the host library
    files["src/nsm/cloister_nsm.c"] = ('#include "base/num.h"\n#include "nsm/nsm_dev.h"\n'
                                       '#include "base/fileio.h"\n')
    files["src/nsm/nsm_serve.c"] = '#include "base/fileio.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert out == [
        "src/init/init.c:2: init may not include src/lib/base/fileio.h (base/fileio.h)",
        "src/nsm/cloister_nsm.c:3: cloister-nsm may not include src/lib/base/fileio.h "
        "(base/fileio.h)",
        "src/runtime/preload/preload.c:2: runtime/preload may not include src/lib/nsm/nsm_dev.h "
        "(nsm/nsm_dev.h)",
    ]


def test_the_cli_includes_only_the_runtimes_cli_side(tmp_path):
    files = dict(CLEAN)
    files["src/runtime/rt_cli.h"] = "int rt_cli(void);\n"
    files["src/runtime/rt_sandbox.h"] = "int rt_sandbox(void);\n"
    files["src/runtime/rt_monitor_internal.h"] = "int rt_internal(void);\n"
    files["src/cli/cmd_x.c"] = ('#include "rt_cli.h"\n#include "rt_sandbox.h"\n'
                                '#include "rt_monitor_internal.h"\n')
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert out == [
        "src/cli/cmd_x.c:2: cli may not include src/runtime/rt_sandbox.h (rt_sandbox.h)",
        "src/cli/cmd_x.c:3: cli may not include src/runtime/rt_monitor_internal.h "
        "(rt_monitor_internal.h)",
    ]


def test_an_unknown_public_header(tmp_path):
    files = dict(CLEAN)
    files["include/cloister/extra.h"] = "int extra(void);\n"
    files["src/lib/eif/pcr.c"] = CLEAN["src/lib/eif/pcr.c"] + "#include <cloister/extra.h>\n"
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert out == ["include/cloister/extra.h: a public header with no component "
                   "(PUBLIC in scripts/check-layout.py)"]


def test_kms_folders_are_layers_spelled_by_layer(tmp_path):
    files = dict(CLEAN)
    files["src/kms/call/call.h"] = "int call(void);\n"
    files["src/kms/call/call.c"] = '#include "call.h"\n'
    files["src/kms/ops/keys.c"] = '#include "../call/call.h"\n#include "call/call.h"\n'
    files["src/kms/extra/x.c"] = '#include "call/call.h"\n'
    code, out = check(tree(tmp_path, files))
    assert code == 1
    assert out == [
        'src/kms/extra: a key-service folder that is not a layer (KMS_LAYERS in '
        'scripts/check-layout.py, docs/kms.md "Code layout")',
        'src/kms/call/call.c:1: include key-service headers by layer: "call/call.h"',
        "src/kms/extra/x.c:1: kms/extra has no dependency rule in scripts/check-layout.py",
        'src/kms/ops/keys.c:1: include key-service headers by layer: "call/call.h"',
    ]
