/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister` called as `nitro-cli` (docs/compatibility.md, "The name
 * nitro-cli"): the top of the command line as nitro-cli 1.5.0 has it
 * (clap 4.5): its help and usage texts, `Nitro CLI <version>`, clap's
 * errors for a missing or unknown subcommand or option (exit status 2),
 * and only nitro-cli's subcommands; Cloister's own (attestation-ca, attest,
 * exec, env, ...) are refused with a tip to run them as `cloister`, so that
 * a script that works through `nitro-cli` here works on a Nitro instance
 * too.
 */
#ifndef CLOISTER_CLI_FRONT_H
#define CLOISTER_CLI_FRONT_H

/* main() for the name nitro-cli: argv as main() received it. */
int front_nitro_cli_main(int argc, char **argv);

#endif
