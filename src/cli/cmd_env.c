/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister env`: the parent instance's environment as shell commands, for
 * `eval "$(cloister env)"` in an interactive shell: the same variables
 * `cloister exec` sets (lib/parent_env, docs/parent.md). What only a
 * supervising `cloister exec` can give, the emulated vsock and the
 * instance metadata address 169.254.169.254, is not part of it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "parent_env/parent_env.h"

/* NAME=value as `export NAME='value'`, quoted for any POSIX shell. */
static void print_export(const char *var)
{
    const char *eq = strchr(var, '=');
    printf("export %.*s='", (int)(eq - var), var);
    for (const char *p = eq + 1; *p; p++)
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    puts("';");
}

int cmd_env(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("Usage: eval \"$(cloister env)\"\n"
               "Prints, as shell commands, the environment a parent program needs to reach\n"
               "cloister-kms and its instance metadata service with AWS SDKs and CLIs, from\n"
               "the endpoints file ($CLOISTER_ENDPOINTS, or %s).\n"
               "For the emulated vsock and the address 169.254.169.254, use `cloister exec`.\n",
               PARENT_ENV_ENDPOINTS_DEFAULT);
        return 0;
    }
    if (argc > 1)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s' (usage: eval \"$(cloister env)\")",
                        argv[1]);
    struct parent_env pe;
    bool named = false;
    struct cl_error err = { 0 };
    int rc = parent_env_load(&pe, &named, &err);
    if (rc == CL_ENOTFOUND && !named)
        return cli_fail(E_FILE_OPERATION,
                        "no cloister-kms endpoints file at %s: start `cloister-kms serve`, or set "
                        "%s to the file its --endpoints-file names",
                        PARENT_ENV_ENDPOINTS_DEFAULT, PARENT_ENV_ENDPOINTS_VAR);
    if (rc == 0)
        rc = parent_env_prepare(&pe, &err);
    if (rc < 0) {
        parent_env_clear(&pe);
        return cli_fail_lib(E_FILE_OPERATION, &err);
    }
    for (size_t i = 0; pe.vars[i]; i++)
        print_export(pe.vars[i]);
    parent_env_clear(&pe);
    return fflush(stdout) == 0 ? 0 : cli_fail(E_FILE_OPERATION, "cannot write the output");
}
