/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands of `cloister`: one file each, cmd_<name>.c. */
#ifndef CLOISTER_COMMANDS_H
#define CLOISTER_COMMANDS_H

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
    /* nitro-cli's own line for its subcommands (aws-nitro-enclaves-cli
     * src/lib.rs, create_app!); NULL for Cloister's own, which the name
     * nitro-cli does not know (front.h). */
    const char *nitro_summary;
};

/* Defined in main.c, nitro-cli's subcommands first and in its order;
 * NULL-terminated. */
extern const struct command commands[];

/* One declaration per subcommand, in the order of main.c's table. */
int cmd_run_enclave(int argc, char **argv);
int cmd_describe_enclaves(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_terminate_enclave(int argc, char **argv);
int cmd_build_enclave(int argc, char **argv);
int cmd_describe_eif(int argc, char **argv);
int cmd_pcr(int argc, char **argv);
int cmd_sign_eif(int argc, char **argv);
int cmd_attestation_ca(int argc, char **argv);
int cmd_attest(int argc, char **argv);
int cmd_verify_attestation(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_env(int argc, char **argv);

#endif
