# SPDX-License-Identifier: Apache-2.0
"""The `cloister` front end: version, help and nitro-cli's error format;
and the same program called as `nitro-cli`."""
import pytest

from conftest import BIN_DIR, cloister, run


def test_version():
    p = cloister("--version")
    assert p.returncode == 0
    assert p.stdout.startswith("Cloister CLI ")


def test_help_lists_subcommands():
    p = cloister("help")
    assert p.returncode == 0
    assert "SUBCOMMANDS:" in p.stdout


def test_unknown_subcommand_is_E14():
    p = cloister("no-such-command")
    assert p.returncode == 14
    assert "[ E14 ] Invalid command. unknown subcommand 'no-such-command'" in p.stderr
    assert p.stdout == ""


def test_missing_subcommand_is_E01():
    p = cloister()
    assert p.returncode == 1
    assert "[ E01 ] Missing mandatory argument." in p.stderr


# --------------------------------------------------------------------------
# Called as nitro-cli (a link named nitro-cli, as `make install NITRO_CLI=ON`
# makes one; test_install.py installs it): the top of the command line is
# nitro-cli 1.5.0's (clap 4.5's texts, exit status 2 for usage errors).

NITRO_USAGE_TAIL = "\nUsage: nitro-cli [COMMAND]\n\nFor more information, try '--help'.\n"
NITRO_HELP = """CLI for enclave lifetime management

Usage: nitro-cli [COMMAND]

Commands:
  run-enclave        Starts a new enclave
  terminate-enclave  Terminates an enclave
  build-enclave      Builds an enclave image and saves it to a file
  describe-eif       Returns information about the EIF found at a given path.
  describe-enclaves  Returns a list of the running enclaves
  console            Connect to the console of an enclave
  pcr                Return the PCR hash value of the given input
  sign-eif           Sign EIF with the given key
  help               Print this message or the help of the given subcommand(s)

Options:
  -h, --help     Print help
  -V, --version  Print version
"""


@pytest.fixture
def nitro_cli(tmp_path):
    link = tmp_path / "nitro-cli"
    link.symlink_to(BIN_DIR / "cloister")
    return lambda *args, **kw: run([link, *args], **kw)


def test_nitro_cli_version_and_help(nitro_cli):
    for flag in ("--version", "-V"):
        p = nitro_cli(flag)
        assert (p.returncode, p.stdout) == (0, "Nitro CLI 1.5.0\n")
    for args in (["--help"], ["-h"], ["help"]):
        p = nitro_cli(*args)
        assert (p.returncode, p.stdout, p.stderr) == (0, NITRO_HELP, "")
    p = nitro_cli()  # clap's arg_required_else_help
    assert (p.returncode, p.stdout, p.stderr) == (2, "", NITRO_HELP)
    p = nitro_cli("help", "describe-enclaves")
    assert (p.returncode, p.stdout) == (0, "Usage: nitro-cli describe-enclaves [--metadata]\n")


@pytest.mark.parametrize("args,stderr", [
    (["no-such-command"], "error: unrecognized subcommand 'no-such-command'\n"),
    (["describe"], "error: unrecognized subcommand 'describe'\n\n  tip: some similar "
                   "subcommands exist: 'describe-enclaves', 'describe-eif'\n"),
    (["terminate"], "error: unrecognized subcommand 'terminate'\n\n  tip: a similar "
                    "subcommand exists: 'terminate-enclave'\n"),
    (["--versio"], "error: unexpected argument '--versio' found\n\n  tip: a similar argument "
                   "exists: '--version'\n"),
    (["-x"], "error: unexpected argument '-x' found\n"),
    (["help", "describe"], "error: unrecognized subcommand 'describe'\n"),
    # Cloister's own subcommands are not nitro-cli's: a script that works
    # through nitro-cli here works on a Nitro instance
    (["attestation-ca", "show"], "error: unrecognized subcommand 'attestation-ca'\n\n  tip: "
     "'attestation-ca' is Cloister's own, not nitro-cli's: run 'cloister attestation-ca'\n"),
    (["exec", "--", "true"], "error: unrecognized subcommand 'exec'\n\n  tip: 'exec' is "
     "Cloister's own, not nitro-cli's: run 'cloister exec'\n"),
    (["env"], "error: unrecognized subcommand 'env'\n\n  tip: 'env' is Cloister's own, not "
     "nitro-cli's: run 'cloister env'\n"),
    (["explain", "--error-code", "E36"], "error: unrecognized subcommand 'explain'\n\n  tip: "
     "Cloister has no 'explain': each error's page is "
     "https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html\n"),
])
def test_nitro_cli_usage_errors_are_claps(nitro_cli, args, stderr):
    p = nitro_cli(*args)
    assert (p.returncode, p.stdout, p.stderr) == (2, "", stderr + NITRO_USAGE_TAIL)


def test_nitro_cli_errors_and_json(nitro_cli, tmp_path):
    """A subcommand's error is nitro-cli's: the [ Exx ] line, a blank line and
    the link to AWS's page of that error; the JSON is the same as cloister's."""
    p = nitro_cli("describe-eif", "--eif-path", tmp_path / "none.eif")
    assert p.returncode == 19
    assert p.stderr == (f"[ E19 ] File operation failure. cannot open '{tmp_path}/none.eif': No "
                        "such file or directory\n\nFor more details, please visit "
                        "https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E19\n")
    assert cloister("describe-eif", "--eif-path", tmp_path / "none.eif").stderr == \
        p.stderr.split("\n")[0] + "\n"
    env = {"CLOISTER_RUN_DIR": str(tmp_path / "run")}
    p = nitro_cli("describe-enclaves", env=env)
    assert (p.returncode, p.stdout) == (0, "[]\n")
    assert cloister("describe-enclaves", env=env).stdout == p.stdout
    blob = tmp_path / "x"
    blob.write_bytes(b"cloister")
    assert nitro_cli("pcr", "--input", blob).stdout == cloister("pcr", "--input", blob).stdout
    p = nitro_cli("run-enclave", "--help")
    assert p.stdout.startswith("Usage: nitro-cli run-enclave --eif-path FILE ")
    assert "\n       nitro-cli run-enclave --config FILE" in p.stdout
