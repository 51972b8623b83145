/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line's top as nitro-cli has it (front.h). The texts are
 * those nitro-cli 1.5.0 prints, which clap 4.5 makes from nitro-cli's
 * create_app! (aws-nitro-enclaves-cli src/lib.rs: the name "Nitro CLI", the
 * about line, arg_required_else_help, the subcommands and their abouts) and
 * its own templates (clap_builder: output/help_template.rs for the help,
 * output/usage.rs for "Usage: nitro-cli [COMMAND]", error/format.rs for the
 * errors, parser/features/suggestions.rs for the tips), without colours.
 */
#include "front.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* clap's exit status for usage errors (and for help shown because no
 * subcommand was given); nitro-cli's own errors exit with their E-number. */
#define CLAP_USAGE_EXIT 2
#define HELP_ABOUT "Print this message or the help of the given subcommand(s)"

static void help(FILE *out)
{
    size_t width = strlen("help");
    for (const struct command *c = commands; c->name; c++)
        if (c->nitro_summary && strlen(c->name) > width)
            width = strlen(c->name);
    fprintf(out, "CLI for enclave lifetime management\n\nUsage: nitro-cli [COMMAND]\n\nCommands:\n");
    for (const struct command *c = commands; c->name; c++)
        if (c->nitro_summary)
            fprintf(out, "  %-*s  %s\n", (int)width, c->name, c->nitro_summary);
    fprintf(out, "  %-*s  %s\n", (int)width, "help", HELP_ABOUT);
    fprintf(out, "\nOptions:\n  -h, --help     Print help\n  -V, --version  Print version\n");
}

/*
 * Jaro similarity of a and b, byte by byte: matches within half the longer
 * length less one, transpositions halved. clap suggests the names that
 * score above 0.7.
 */
static double jaro(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (!la && !lb)
        return 1.0;
    if (!la || !lb || la > 128 || lb > 128)
        return 0.0;
    bool fa[128] = { false }, fb[128] = { false };
    size_t range = (la > lb ? la : lb) / 2, m = 0;
    range = range ? range - 1 : 0;
    for (size_t i = 0; i < la; i++) {
        size_t hi = i + range + 1 < lb ? i + range + 1 : lb;
        for (size_t j = i > range ? i - range : 0; j < hi; j++) {
            if (!fb[j] && a[i] == b[j]) {
                fa[i] = fb[j] = true;
                m++;
                break;
            }
        }
    }
    if (!m)
        return 0.0;
    size_t t = 0;
    for (size_t i = 0, j = 0; i < la; i++) {
        if (!fa[i])
            continue;
        while (!fb[j])
            j++;
        if (a[i] != b[j])
            t++;
        j++;
    }
    t /= 2;
    return ((double)m / (double)la + (double)m / (double)lb + (double)(m - t) / (double)m) / 3.0;
}

/* The names among names[0..n) that score above 0.7 against s, least
 * similar first (as clap lists them); returns how many went to out. */
static size_t similar(const char *s, const char *const *names, size_t n, const char **out)
{
    double score[32];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 32; i++) {
        double c = jaro(s, names[i]);
        if (c <= 0.7)
            continue;
        size_t at = k;
        while (at > 0 && score[at - 1] > c)
            at--;
        memmove(score + at + 1, score + at, (k - at) * sizeof(score[0]));
        memmove(out + at + 1, out + at, (k - at) * sizeof(out[0]));
        score[at] = c;
        out[at] = names[i];
        k++;
    }
    return k;
}

/* One of clap's usage errors: "error: <what>", tips, the usage, the hint. */
static int clap_error(const char *what, const char *tip)
{
    fprintf(stderr, "error: %s\n\n%s%s%sUsage: nitro-cli [COMMAND]\n\nFor more information, try '--help'.\n",
            what, tip ? "  tip: " : "", tip ? tip : "", tip ? "\n\n" : "");
    return CLAP_USAGE_EXIT;
}

static const struct command *find(const char *name, bool nitro_only)
{
    for (const struct command *c = commands; c->name; c++)
        if (!strcmp(c->name, name) && (c->nitro_summary || !nitro_only))
            return c;
    return NULL;
}

/*
 * An unknown subcommand. suggest: clap's tip of similar names (not after
 * `help`). Cloister's own subcommands and nitro-cli's `explain`, which
 * Cloister lacks, get a tip of their own.
 */
static int unknown_subcommand(const char *name, bool suggest)
{
    char what[600], tip[700];
    snprintf(what, sizeof(what), "unrecognized subcommand '%.500s'", name);
    if (find(name, false)) {
        snprintf(tip, sizeof(tip), "'%s' is Cloister's own, not nitro-cli's: run 'cloister %s'", name, name);
        return clap_error(what, tip);
    }
    if (!strcmp(name, "explain"))
        return clap_error(what, "Cloister has no 'explain': each error's page is "
                                "https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html");
    const char *names[32], *hits[32];
    size_t n = 0;
    for (const struct command *c = commands; c->name && n < 31; c++)
        if (c->nitro_summary)
            names[n++] = c->name;
    names[n++] = "help";
    size_t k = suggest ? similar(name, names, n, hits) : 0;
    if (k == 0)
        return clap_error(what, NULL);
    size_t off = (size_t)snprintf(tip, sizeof(tip), k == 1 ? "a similar subcommand exists: "
                                                           : "some similar subcommands exist: ");
    for (size_t i = 0; i < k && off < sizeof(tip); i++)
        off += (size_t)snprintf(tip + off, sizeof(tip) - off, "%s'%s'", i ? ", " : "", hits[i]);
    return clap_error(what, tip);
}

static int unknown_option(const char *arg)
{
    char what[600], tip[64];
    snprintf(what, sizeof(what), "unexpected argument '%.500s' found", arg);
    static const char *const longs[] = { "help", "version" };
    const char *hits[2];
    size_t k = strncmp(arg, "--", 2) ? 0 : similar(arg + 2, longs, 2, hits);
    if (k == 0)
        return clap_error(what, NULL);
    snprintf(tip, sizeof(tip), "a similar argument exists: '--%s'", hits[k - 1]);
    return clap_error(what, tip);
}

int front_nitro_cli_main(int argc, char **argv)
{
    if (argc < 2 || (argc == 2 && !strcmp(argv[1], "--"))) {
        help(stderr);
        return CLAP_USAGE_EXIT;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-V") || !strcmp(name, "--version")) {
        printf("Nitro CLI %s\n", CLI_NITRO_CLI_VERSION);
        return 0;
    }
    if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
        help(stdout);
        return 0;
    }
    if (!strcmp(name, "help")) {
        if (argc < 3 || !strcmp(argv[2], "help")) {
            help(stdout);
            return 0;
        }
        const struct command *c = find(argv[2], true);
        if (!c)
            return unknown_subcommand(argv[2], false);
        char *sub[] = { argv[2], "--help", NULL };
        return c->main(2, sub);
    }
    if (name[0] == '-' && name[1])
        return unknown_option(name);
    const struct command *c = find(name, true);
    if (!c)
        return unknown_subcommand(name, true);
    return c->main(argc - 1, argv + 1);
}
