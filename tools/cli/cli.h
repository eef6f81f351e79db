/* The command's private parts, shared by cli.c and the sub-command files. */
#ifndef KK_CLI_H
#define KK_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkette.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

typedef struct cli_option {
    char short_name;       /* 0: long form only */
    const char *long_name; /* NULL: short form only */
    const char *arg;       /* the value's name in help, NULL for a flag */
    const char *help;
} cli_option_t;

typedef struct cli_command {
    const char *name;
    const char *usage;           /* after "kafkette NAME " */
    const char *summary;         /* one line */
    const char *description;     /* the rest of --help, may be NULL */
    const cli_option_t *options; /* the command's own, ended by a zeroed entry */
} cli_command_t;

/* One run of kk_cli_main: options every sub-command takes, and where output goes. */
typedef struct cli {
    const char *prog;
    const cli_command_t *command;
    const char *brokers;
    const char **xopts; /* "-X name=value" texts, pointing into argv */
    size_t xopt_count;
    bool quiet;
    bool progress_ok; /* stderr is a terminal and not --quiet */
    bool summarized;  /* the command printed its own summary (so no generic "stopped" line) */
} cli_t;

/* Called for each of the command's own options: index into command->options, the value (NULL
 * for a flag). Returns CLI_OK or CLI_USAGE (after cli_usage_error). */
typedef int (*cli_option_fn)(cli_t *cli, void *ctx, int index, const char *value);

/* Parses argv (after the sub-command's name): common options (-b, -X, -q, -h) are kept in cli,
 * the command's own go to fn, the rest are positional (*positional points into argv; free the
 * array). Returns CLI_OK, CLI_USAGE, or -1 when --help was printed (exit 0). */
int cli_parse(cli_t *cli, int argc, char **argv, cli_option_fn fn, void *ctx, char ***positional,
              int *positional_count);

/* "kafkette CMD: <message>" and a pointer to --help on stderr; returns CLI_USAGE. */
int cli_usage_error(cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a failed call: what was being done, the core's message, the error's class and
 * category, and what to try. Returns CLI_INTERRUPTED after Ctrl-C, else CLI_FAILED. */
int cli_fail(cli_t *cli, const char *doing, const kk_error_t *err);

/* A config of the kind with -b and every -X applied and Ctrl-C wired to interrupt_check;
 * NULL after reporting the problem (*rc set). */
kk_config_t *cli_config(cli_t *cli, kk_config_kind_t kind, int *rc);
/* A client for administration built the same way; NULL after reporting (*rc set). */
kk_client_t *cli_client(cli_t *cli, int *rc);

/* True once Ctrl-C was pressed during this run. */
bool cli_interrupted(void);

/* Parses a whole decimal number into *out; false when text is not one. */
bool cli_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/* A one-line progress display on stderr (a terminal only, shown after a second of work). */
typedef struct cli_progress {
    bool enabled;
    const char *unit; /* "records" */
    int64_t start_ms;
    int64_t last_ms;
    bool shown;
} cli_progress_t;

void cli_progress_init(cli_progress_t *p, cli_t *cli, const char *unit);
/* done/total: the work measured in any unit (bytes of input, records to reach); total <= 0
 * when unknown (no percentage or ETA). */
void cli_progress_update(cli_progress_t *p, uint64_t records, uint64_t bytes, double done,
                         double total);
/* Clears the line. */
void cli_progress_end(cli_progress_t *p);

int64_t cli_now_ms(void);

/* The sub-commands. */
int cli_produce(cli_t *cli, int argc, char **argv);
int cli_consume(cli_t *cli, int argc, char **argv);
int cli_topics(cli_t *cli, int argc, char **argv);
int cli_groups(cli_t *cli, int argc, char **argv);
int cli_cluster(cli_t *cli, int argc, char **argv);

extern const cli_command_t cli_produce_command, cli_consume_command, cli_topics_command,
    cli_groups_command, cli_cluster_command;

#endif
