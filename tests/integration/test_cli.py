# SPDX-License-Identifier: Apache-2.0
"""The `cloister` front end: version, help and nitro-cli's error format."""
from conftest import cloister


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
