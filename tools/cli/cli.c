/* kk_cli_main: picks the sub-command, parses the options every sub-command shares, reports
 * errors with their class and a hint, handles Ctrl-C and draws the progress line. */
#include "cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafkette_cli.h"

/* Set by the SIGINT handler of the current run; cleared when a run starts. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

bool cli_interrupted(void) { return interrupted != 0; }

static bool interrupt_check(void *opaque) {
    (void)opaque;
    return interrupted != 0;
}

int64_t cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cli_parse_int(const char *text, int64_t min, int64_t max, int64_t *out) {
    if (!text || !*text)
        return false;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (*end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- help and usage --------------------------------------------------------------------- */

static const cli_option_t common_options[] = {
    {'b', "brokers", "HOST:PORT,...", "the seed brokers (default: $KAFKETTE_BROKERS)"},
    {'X', "option", "NAME=VALUE", "any client option (see docs/CONFIGURATION.md); repeatable"},
    {'q', "quiet", NULL, "no progress line"},
    {'h', "help", NULL, "this help"},
    {0, NULL, NULL, NULL},
};

static const cli_command_t *const commands[] = {
    &cli_produce_command, &cli_consume_command, &cli_topics_command,
    &cli_groups_command,  &cli_cluster_command,
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_options(const cli_option_t *opts) {
    for (const cli_option_t *o = opts; o->short_name || o->long_name; o++) {
        char left[64];
        int n = 0;
        if (o->short_name && o->long_name)
            n = snprintf(left, sizeof(left), "-%c, --%s", o->short_name, o->long_name);
        else if (o->short_name)
            n = snprintf(left, sizeof(left), "-%c", o->short_name);
        else
            n = snprintf(left, sizeof(left), "    --%s", o->long_name);
        if (o->arg && n > 0 && (size_t)n < sizeof(left))
            snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg);
        printf("  %-28s %s\n", left, o->help);
    }
}

static void print_command_help(const char *prog, const cli_command_t *cmd) {
    printf("usage: %s %s %s\n\n%s\n", prog, cmd->name, cmd->usage, cmd->summary);
    if (cmd->description)
        printf("\n%s", cmd->description);
    printf("\noptions:\n");
    print_options(cmd->options);
    print_options(common_options);
}

static void print_main_help(const char *prog) {
    printf("usage: %s COMMAND [OPTIONS] [ARGS]\n\nA console client for Apache Kafka, built on "
           "kafkette %s.\n\n"
           "commands:\n",
           prog, KK_VERSION_STRING);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        printf("  %-9s %s\n", commands[i]->name, commands[i]->summary);
    printf("\n'%s COMMAND --help' tells more. Every command takes -b HOST:PORT (or "
           "$KAFKETTE_BROKERS)\n"
           "and -X NAME=VALUE for any option of docs/CONFIGURATION.md.\n"
           "Exit codes: 0 done, 1 failed, 2 usage error, 130 stopped by Ctrl-C.\n",
           prog);
}

int cli_usage_error(cli_t *cli, const char *fmt, ...) {
    fprintf(stderr, "%s %s: ", cli->prog, cli->command ? cli->command->name : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(try '%s %s --help')\n", cli->prog, cli->command ? cli->command->name : "");
    return CLI_USAGE;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* What to try, for the codes people meet most, then by category. */
static const char *hint_for(int code) {
    switch (code) {
    case 3:
        return "check the topic's name: '%s topics -b ...' lists them";
    case 36:
        return "the topic exists already; '%s topics describe TOPIC' shows it";
    case 37:
        return "a topic's partition count can only grow";
    case 40:
        return "check the config's name and value ('%s topics configs TOPIC' lists them)";
    case 10:
        return "the message is over the broker's message.max.bytes (or the topic's "
               "max.message.bytes)";
    default:
        break;
    }
    switch (kk_err_category(code)) {
    case KK_CAT_CONNECTION:
        return "is a broker listening there? check -b HOST:PORT (or $KAFKETTE_BROKERS)";
    case KK_CAT_TIMEOUT:
        return "the broker did not answer in time: check it, or allow more with "
               "-X request_timeout_ms=... / -X connect_timeout_ms=...";
    case KK_CAT_METADATA:
        return "no broker of the list could be reached: check -b and that the cluster is up";
    case KK_CAT_UNSUPPORTED_VERSION:
        return "the broker is too old (or too new) for this operation";
    case KK_CAT_AUTHENTICATION:
        return "check the credentials the broker expects";
    case KK_CAT_AUTHORIZATION:
        return "the broker's ACLs do not allow this principal to do that";
    case KK_CAT_INVALID_ARGUMENT:
        return "check the options: '%s COMMAND --help'";
    case KK_CAT_INVALID_PARTITION:
        return "'%s topics describe TOPIC' shows the topic's partitions";
    case KK_CAT_MALFORMED:
    case KK_CAT_CHECKSUM:
        return "the data or the broker's answer is damaged; try again, and report it if it stays";
    case KK_CAT_COMPRESSION:
        return "this build may lack the codec; try another with -z";
    default:
        return kk_err_is_retriable(code) ? "a passing condition: trying again may work" : NULL;
    }
}

int cli_fail(cli_t *cli, const char *doing, const kk_error_t *err) {
    if (cli_interrupted() || (err && err->code == KK_ERR_INTERRUPTED))
        return CLI_INTERRUPTED; /* kk_cli_main or the command's summary says so */
    int code = err ? err->code : KK_ERR_INVALID_ARG;
    char cls[96];
    kk_err_class_name(code, cls, sizeof(cls));
    fprintf(stderr, "%s %s: %s failed: %s\n", cli->prog, cli->command->name, doing,
            err && err->message[0] ? err->message : kk_err_description(code));
    fprintf(stderr, "  error: %s (%s, code %d, %s)\n", cls,
            kk_err_category_name(kk_err_category(code)), code,
            kk_err_is_retriable(code) ? "retriable" : "not retriable");
    const char *hint = hint_for(code);
    if (hint) {
        fprintf(stderr, "  try: ");
        fprintf(stderr, hint, cli->prog); /* hints take at most the program's name */
        fprintf(stderr, "\n");
    }
    return CLI_FAILED;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* Finds the option argv[*i] names; *value gets an attached value ("-p3", "--partition=3"). */
static const cli_option_t *match(const cli_option_t *opts, const char *arg, const char **value,
                                 int *index) {
    *value = NULL;
    for (int k = 0; opts[k].short_name || opts[k].long_name; k++) {
        const cli_option_t *o = &opts[k];
        if (arg[1] == '-') {
            if (!o->long_name)
                continue;
            size_t n = strlen(o->long_name);
            if (strncmp(arg + 2, o->long_name, n) != 0 || (arg[2 + n] && arg[2 + n] != '='))
                continue;
            if (arg[2 + n] == '=')
                *value = arg + 3 + n;
        } else {
            if (!o->short_name || arg[1] != o->short_name)
                continue;
            if (arg[2]) {
                if (!o->arg)
                    continue; /* "-qx" is no flag of ours */
                *value = arg + 2;
            }
        }
        *index = k;
        return o;
    }
    return NULL;
}

int cli_parse(cli_t *cli, int argc, char **argv, cli_option_fn fn, void *ctx, char ***positional,
              int *positional_count) {
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos) {
        fprintf(stderr, "%s: out of memory\n", cli->prog);
        return CLI_FAILED;
    }
    int npos = 0;
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            pos[npos++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        const char *value;
        int index;
        bool common = true;
        const cli_option_t *o = match(common_options, arg, &value, &index);
        if (!o) {
            common = false;
            o = match(cli->command->options, arg, &value, &index);
        }
        if (!o) {
            free(pos);
            return cli_usage_error(cli, "unknown option '%s'", arg);
        }
        if (o->arg && !value) {
            if (i + 1 >= argc) {
                free(pos);
                return cli_usage_error(cli, "option '%s' needs a value (%s)", arg, o->arg);
            }
            value = argv[++i];
        } else if (!o->arg && value) {
            free(pos);
            return cli_usage_error(cli, "option '%s' takes no value", arg);
        }
        int rc = CLI_OK;
        if (common) {
            switch (o->short_name) {
            case 'b':
                cli->brokers = value;
                break;
            case 'X': {
                const char **grown = realloc(cli->xopts, (cli->xopt_count + 1) * sizeof(*grown));
                if (!grown) {
                    free(pos);
                    return CLI_FAILED;
                }
                cli->xopts = grown;
                cli->xopts[cli->xopt_count++] = value;
                break;
            }
            case 'q':
                cli->quiet = true;
                break;
            case 'h':
                free(pos);
                print_command_help(cli->prog, cli->command);
                return -1;
            }
        } else {
            rc = fn(cli, ctx, index, value);
        }
        if (rc != CLI_OK) {
            free(pos);
            return rc;
        }
    }
    cli->progress_ok = !cli->quiet && isatty(STDERR_FILENO);
    *positional = pos;
    *positional_count = npos;
    return CLI_OK;
}

/* ---- configs and clients ---------------------------------------------------------------- */

kk_config_t *cli_config(cli_t *cli, kk_config_kind_t kind, int *rc) {
    const char *brokers = cli->brokers;
    if (!brokers || !brokers[0])
        brokers = getenv("KAFKETTE_BROKERS");
    if (!brokers || !brokers[0]) {
        *rc = cli_usage_error(
            cli, "no brokers: give -b HOST:PORT[,HOST:PORT...] or set $KAFKETTE_BROKERS");
        return NULL;
    }
    kk_config_t *cfg = kk_config_new(kind);
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", cli->prog);
        *rc = CLI_FAILED;
        return NULL;
    }
    kk_error_t err;
    kk_error_clear(&err);
    if (kk_config_set(cfg, "bootstrap_servers", brokers, &err) != KK_OK ||
        kk_config_set(cfg, "client_id", "kafkette-cli", &err) != KK_OK) {
        *rc = cli_usage_error(cli, "%s", err.message);
        kk_config_free(cfg);
        return NULL;
    }
    for (size_t i = 0; i < cli->xopt_count; i++) {
        const char *eq = strchr(cli->xopts[i], '=');
        if (!eq || eq == cli->xopts[i]) {
            *rc = cli_usage_error(cli, "-X takes NAME=VALUE, not '%s'", cli->xopts[i]);
            kk_config_free(cfg);
            return NULL;
        }
        char name[128];
        size_t n = (size_t)(eq - cli->xopts[i]);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, cli->xopts[i], n);
        name[n] = '\0';
        if (kk_config_set(cfg, name, eq + 1, &err) != KK_OK) {
            *rc = cli_usage_error(cli, "-X %s: %s", cli->xopts[i], err.message);
            kk_config_free(cfg);
            return NULL;
        }
    }
    kk_client_config_t *client = kk_config_client(cfg);
    client->interrupt_check = interrupt_check;
    client->interrupt_opaque = NULL;
    return cfg;
}

kk_client_t *cli_client(cli_t *cli, int *rc) {
    kk_config_t *cfg = cli_config(cli, KK_CONFIG_CLIENT, rc);
    if (!cfg)
        return NULL;
    kk_error_t err;
    kk_client_t *client = kk_client_new(kk_config_client(cfg), &err);
    kk_config_free(cfg);
    if (!client)
        *rc = cli_fail(cli, "creating the client", &err);
    return client;
}

/* ---- progress --------------------------------------------------------------------------- */

void cli_progress_init(cli_progress_t *p, cli_t *cli, const char *unit) {
    memset(p, 0, sizeof(*p));
    p->enabled = cli->progress_ok;
    p->unit = unit;
    p->start_ms = p->last_ms = cli_now_ms();
}

static void format_duration(char *buf, size_t size, double seconds) {
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void cli_progress_update(cli_progress_t *p, uint64_t records, uint64_t bytes, double done,
                         double total) {
    if (!p->enabled)
        return;
    int64_t now = cli_now_ms();
    /* long work only: nothing in the first second, then at most five updates a second */
    if (now - p->start_ms < 1000 || now - p->last_ms < 200)
        return;
    p->last_ms = now;
    double seconds = (double)(now - p->start_ms) / 1000.0;
    char line[160];
    int n = snprintf(line, sizeof(line), "%llu %s, %.1f MB, %.0f %s/s", (unsigned long long)records,
                     p->unit, (double)bytes / 1e6, (double)records / seconds, p->unit);
    if (total > 0 && done >= 0 && n > 0 && (size_t)n < sizeof(line)) {
        double fraction = done / total > 1 ? 1 : done / total;
        char eta[32] = "?";
        if (fraction > 0)
            format_duration(eta, sizeof(eta), seconds * (1 - fraction) / fraction);
        snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f%%, ETA %s", fraction * 100, eta);
    }
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->shown = true;
}

void cli_progress_end(cli_progress_t *p) {
    if (p->shown) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->shown = false;
}

/* ---- main ------------------------------------------------------------------------------- */

int kk_cli_main(int argc, char **argv) {
    const char *prog = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    prog = prog ? prog + 1 : (argc > 0 && argv[0] && argv[0][0] ? argv[0] : "kafkette");
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_main_help(prog);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("kafkette %s\n", KK_VERSION_STRING);
        return CLI_OK;
    }
    const cli_command_t *cmd = NULL;
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            cmd = commands[i];
    if (!cmd) {
        fprintf(stderr, "%s: unknown command '%s' (try '%s --help')\n", prog, argv[1], prog);
        return CLI_USAGE;
    }

    cli_t cli = {.prog = prog, .command = cmd};
    interrupted = 0;
    struct sigaction action, previous;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);

    int rc;
    if (cmd == &cli_produce_command)
        rc = cli_produce(&cli, argc - 2, argv + 2);
    else if (cmd == &cli_consume_command)
        rc = cli_consume(&cli, argc - 2, argv + 2);
    else if (cmd == &cli_topics_command)
        rc = cli_topics(&cli, argc - 2, argv + 2);
    else if (cmd == &cli_groups_command)
        rc = cli_groups(&cli, argc - 2, argv + 2);
    else
        rc = cli_cluster(&cli, argc - 2, argv + 2);
    if (rc == -1)
        rc = CLI_OK; /* --help */
    if (rc == CLI_OK && cli_interrupted())
        rc = CLI_INTERRUPTED;
    if (rc == CLI_INTERRUPTED && !cli.summarized)
        fprintf(stderr, "%s %s: stopped (Ctrl-C)\n", prog, cmd->name);

    fflush(stdout);
    fflush(stderr);
    sigaction(SIGINT, &previous, NULL);
    free(cli.xopts);
    interrupted = 0;
    return rc;
}
