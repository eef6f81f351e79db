/* kafkette produce: a line per message, from stdin or files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const cli_option_t options[] = {
    {'t', "topic", "TOPIC", "the topic to write to (required)"},
    {'p', "partition", "N",
     "write every message to partition N (default: the partitioner decides)"},
    {'K', "key-delimiter", "SEP", "split each line at the first SEP into key and value"},
    {'z', "compression", "CODEC", "none, gzip, snappy, lz4 or zstd"},
    {0, "acks", "ACKS", "0, 1 or all: replicas that must have a message (default all)"},
    {'H', "header", "NAME=VALUE", "add this header to every message; repeatable"},
    {0, NULL, NULL, NULL},
};

const cli_command_t cli_produce_command = {
    "produce",
    "-b BROKERS -t TOPIC [OPTIONS] [FILE...]",
    "Write a message for each line of the files (or of stdin).",
    "Lines end at \\n, which is not part of the message. Messages are sent in batches; at the end\n"
    "the number delivered and failed is reported on stderr, and the exit code is 1 when any\n"
    "message failed. Other -X options: compression_codec, required_acks, partitioner,\n"
    "max_send_retries, allow_auto_topic_creation, ...\n",
    options,
};

typedef struct produce_args {
    const char *topic;
    int32_t partition;
    const char *key_sep;
    const char *codec;
    const char *acks;
    kk_header_t *headers;
    size_t header_count;
} produce_args_t;

static int on_option(cli_t *cli, void *ctx, int index, const char *value) {
    produce_args_t *a = ctx;
    int64_t n;
    switch (options[index].short_name ? options[index].short_name : 'a') {
    case 't':
        a->topic = value;
        break;
    case 'p':
        if (!cli_parse_int(value, 0, INT32_MAX, &n))
            return cli_usage_error(cli, "-p takes a partition number, not '%s'", value);
        a->partition = (int32_t)n;
        break;
    case 'K':
        if (!value[0])
            return cli_usage_error(cli, "-K needs a non-empty delimiter");
        a->key_sep = value;
        break;
    case 'z':
        a->codec = value;
        break;
    case 'a':
        a->acks = value;
        break;
    case 'H': {
        kk_header_t *grown = realloc(a->headers, (a->header_count + 1) * sizeof(*grown));
        if (!grown)
            return CLI_FAILED;
        a->headers = grown;
        const char *eq = strchr(value, '=');
        kk_header_t *h = &a->headers[a->header_count++];
        h->key = value;
        h->key_len = eq ? (size_t)(eq - value) : strlen(value);
        h->value = eq ? eq + 1 : NULL; /* no '=': a null value */
        h->value_len = eq ? strlen(eq + 1) : 0;
        break;
    }
    }
    return CLI_OK;
}

/* A batch of lines and the messages made of them. */
typedef struct batch {
    char **lines;
    kk_message_t *msgs;
    size_t count, cap;
    size_t bytes;
} batch_t;

enum { BATCH_MESSAGES = 10000, BATCH_BYTES = 4 << 20 };

typedef struct totals {
    uint64_t delivered, failed, bytes_in;
    kk_error_t first_failure;
} totals_t;

static void batch_clear(batch_t *b) {
    for (size_t i = 0; i < b->count; i++)
        free(b->lines[i]);
    b->count = 0;
    b->bytes = 0;
}

static int send_batch(kk_producer_t *producer, batch_t *b, totals_t *t) {
    if (b->count == 0)
        return KK_OK;
    kk_error_t err;
    kk_error_clear(&err);
    int rc = kk_producer_send(producer, b->msgs, b->count, &err);
    for (size_t i = 0; i < b->count; i++) {
        if (b->msgs[i].error == 0) {
            t->delivered++;
        } else {
            t->failed++;
            if (t->first_failure.code == 0) {
                t->first_failure.code = b->msgs[i].error;
                snprintf(t->first_failure.message, sizeof(t->first_failure.message), "%s",
                         err.message[0] ? err.message : kk_err_description(b->msgs[i].error));
            }
        }
    }
    batch_clear(b);
    return rc;
}

static int add_line(batch_t *b, const produce_args_t *a, char *line, size_t len) {
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char **lines = realloc(b->lines, cap * sizeof(*lines));
        if (!lines)
            return KK_ERR_NO_MEMORY;
        b->lines = lines;
        kk_message_t *msgs = realloc(b->msgs, cap * sizeof(*msgs));
        if (!msgs)
            return KK_ERR_NO_MEMORY;
        b->msgs = msgs;
        b->cap = cap;
    }
    kk_message_t *m = &b->msgs[b->count];
    memset(m, 0, sizeof(*m));
    m->topic = a->topic;
    m->partition = a->partition;
    m->headers = a->headers;
    m->header_count = a->header_count;
    m->value = line;
    m->value_len = len;
    if (a->key_sep) {
        size_t seplen = strlen(a->key_sep);
        for (size_t i = 0; i + seplen <= len; i++) {
            if (memcmp(line + i, a->key_sep, seplen) == 0) {
                m->key = line;
                m->key_len = i;
                m->value = line + i + seplen;
                m->value_len = len - i - seplen;
                break;
            }
        }
    }
    b->lines[b->count++] = line;
    b->bytes += len;
    return KK_OK;
}

int cli_produce(cli_t *cli, int argc, char **argv) {
    produce_args_t a = {.partition = -1};
    char **files = NULL;
    int nfiles = 0;
    int rc = cli_parse(cli, argc, argv, on_option, &a, &files, &nfiles);
    if (rc != CLI_OK) {
        free(a.headers);
        return rc;
    }
    kk_config_t *cfg = NULL;
    kk_producer_t *producer = NULL;
    batch_t b = {0};
    totals_t t = {0};
    cli_progress_t progress;
    if (!a.topic) {
        rc = cli_usage_error(cli, "which topic? give -t TOPIC");
        goto done;
    }
    cfg = cli_config(cli, KK_CONFIG_PRODUCER, &rc);
    if (!cfg)
        goto done;
    kk_error_t err;
    if ((a.codec && kk_config_set(cfg, "compression_codec", a.codec, &err) != KK_OK) ||
        (a.acks && kk_config_set(cfg, "required_acks", a.acks, &err) != KK_OK)) {
        rc = cli_usage_error(cli, "%s", err.message);
        goto done;
    }
    producer = kk_producer_new(kk_config_producer(cfg), &err);
    if (!producer) {
        rc = cli_fail(cli, "creating the producer", &err);
        goto done;
    }

    /* the total is known when every input is a regular file */
    double total = 0;
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
            total += (double)st.st_size;
        else
            total = -1e300;
    }
    cli_progress_init(&progress, cli, "records");
    int inputs = nfiles ? nfiles : 1;
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < inputs && rc == CLI_OK && !cli_interrupted(); i++) {
        const char *path = nfiles ? files[i] : "-";
        FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        if (!in) {
            fprintf(stderr, "%s produce: cannot read %s: %s\n", cli->prog, path, strerror(errno));
            rc = CLI_FAILED;
            break;
        }
        ssize_t n;
        errno = 0;
        while (!cli_interrupted() && (n = getline(&line, &cap, in)) >= 0) {
            t.bytes_in += (uint64_t)n;
            size_t len = (size_t)n;
            if (len && line[len - 1] == '\n')
                len--;
            line[len] = '\0';
            if (add_line(&b, &a, line, len) != KK_OK) {
                fprintf(stderr, "%s produce: out of memory\n", cli->prog);
                rc = CLI_FAILED;
                break;
            }
            line = NULL; /* the batch owns it now */
            cap = 0;
            if (b.count >= BATCH_MESSAGES || b.bytes >= BATCH_BYTES) {
                send_batch(producer, &b, &t);
                cli_progress_update(&progress, t.delivered + t.failed, t.bytes_in,
                                    (double)t.bytes_in, total);
            }
        }
        if (in != stdin)
            fclose(in);
        else
            clearerr(stdin);
    }
    free(line);
    if (!cli_interrupted())
        send_batch(producer, &b, &t);
    else
        batch_clear(&b); /* lines read but not sent are neither delivered nor failed */
    cli_progress_end(&progress);

    cli->summarized = !cli->quiet || t.failed || cli_interrupted();
    if (cli->summarized)
        fprintf(stderr, "%s produce: %llu delivered, %llu failed (topic %s)%s\n", cli->prog,
                (unsigned long long)t.delivered, (unsigned long long)t.failed, a.topic,
                cli_interrupted() ? ", stopped by Ctrl-C" : "");
    if (cli_interrupted())
        rc = CLI_INTERRUPTED;
    else if (rc == CLI_OK && t.failed)
        rc = cli_fail(cli, "delivering", &t.first_failure);

done:
    batch_clear(&b);
    free(b.lines);
    free(b.msgs);
    kk_producer_free(producer);
    kk_config_free(cfg);
    free(a.headers);
    free(files);
    return rc;
}
