/* kafkette consume: one partition, every partition of a topic, or as a group member. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

static const cli_option_t options[] = {
    {'t', "topic", "TOPIC", "the topic to read (required; with -G repeatable)"},
    {'p', "partition", "N", "read only partition N (default: every partition)"},
    {'o', "offset", "WHERE", "beginning, end, N (an offset), -N (N before the end), @MS (a time)"},
    {'e', "exit", NULL, "exit at the end of the partition(s) instead of waiting for more"},
    {'c', "count", "N", "exit after N messages"},
    {'G', "group", "GROUP", "read as a member of this consumer group, committing what was printed"},
    {'f', "format", "FORMAT", "print each message so: %t %p %o %k %v %T %h %%, \\n \\t \\\\"},
    {'K', "key-delimiter", "SEP", "print key SEP value"},
    {'J', "json", NULL, "print a JSON object per line"},
    {0, NULL, NULL, NULL},
};

const cli_command_t cli_consume_command = {
    "consume",
    "-b BROKERS -t TOPIC [-p N] [-o WHERE] [-e] [-c N] [-G GROUP] [-f FORMAT | -K SEP | --json]",
    "Print messages, by default each value on a line of its own.",
    "Formats: %t topic, %p partition, %o offset, %k key, %v value, %T timestamp (ms), %h headers\n"
    "(name=value,...), %% a percent sign; \\n, \\t and \\\\ are escapes.\n"
    "--json prints "
    "{\"topic\",\"partition\",\"offset\",\"timestamp\",\"key\",\"value\",\"headers\"}; a key\n"
    "or value that is not UTF-8 is base64 with \"key_encoding\"/\"value_encoding\": \"base64\".\n"
    "With -G the group decides the partitions and where each starts (-o beginning/end only\n"
    "picks where a partition without a commit starts); what was printed is committed.\n",
    options,
};

typedef struct consume_args {
    const char **topics;
    size_t topic_count;
    int32_t partition; /* -1: all */
    kk_offset_spec_t offset;
    bool offset_set;
    bool exit_at_end;
    int64_t count; /* -1: no limit */
    const char *group;
    cli_output_t out;
} consume_args_t;

static bool parse_offset(const char *text, kk_offset_spec_t *spec) {
    int64_t n;
    if (strcmp(text, "beginning") == 0 || strcmp(text, "earliest") == 0)
        *spec = (kk_offset_spec_t){KK_OFFSET_EARLIEST, 0};
    else if (strcmp(text, "end") == 0 || strcmp(text, "latest") == 0)
        *spec = (kk_offset_spec_t){KK_OFFSET_LATEST, 0};
    else if (text[0] == '@' && cli_parse_int(text + 1, 0, INT64_MAX, &n))
        *spec = (kk_offset_spec_t){KK_OFFSET_AT_TIME, n};
    else if (text[0] == '-' && cli_parse_int(text + 1, 1, INT64_MAX, &n))
        *spec = (kk_offset_spec_t){KK_OFFSET_FROM_LATEST, n};
    else if (cli_parse_int(text, 0, INT64_MAX, &n))
        *spec = (kk_offset_spec_t){KK_OFFSET_AT, n};
    else
        return false;
    return true;
}

static int on_option(cli_t *cli, void *ctx, int index, const char *value) {
    consume_args_t *a = ctx;
    int64_t n;
    switch (options[index].short_name) {
    case 't': {
        const char **grown = realloc(a->topics, (a->topic_count + 1) * sizeof(*grown));
        if (!grown)
            return CLI_FAILED;
        a->topics = grown;
        a->topics[a->topic_count++] = value;
        break;
    }
    case 'p':
        if (!cli_parse_int(value, 0, INT32_MAX, &n))
            return cli_usage_error(cli, "-p takes a partition number, not '%s'", value);
        a->partition = (int32_t)n;
        break;
    case 'o':
        if (!parse_offset(value, &a->offset))
            return cli_usage_error(cli, "-o takes beginning, end, N, -N or @TIMESTAMP_MS, not '%s'",
                                   value);
        a->offset_set = true;
        break;
    case 'e':
        a->exit_at_end = true;
        break;
    case 'c':
        if (!cli_parse_int(value, 1, INT64_MAX, &n))
            return cli_usage_error(cli, "-c takes a positive count, not '%s'", value);
        a->count = n;
        break;
    case 'G':
        a->group = value;
        break;
    case 'f':
        a->out.mode = CLI_OUT_FORMAT;
        a->out.format = value;
        break;
    case 'K':
        a->out.mode = CLI_OUT_KEY_VALUE;
        a->out.key_sep = value;
        break;
    case 'J':
        a->out.mode = CLI_OUT_JSON;
        break;
    }
    return CLI_OK;
}

typedef struct stats {
    uint64_t records, bytes;
    double target; /* records to reach the end with -e; <= 0 unknown */
} stats_t;

/* Prints batch messages until the count is reached; returns how many were printed. */
static size_t print_batch(consume_args_t *a, const char *topic, int32_t partition,
                          const kk_fetch_batch_t *batch, stats_t *s) {
    size_t printed = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (a->count >= 0 && (int64_t)s->records >= a->count)
            break;
        cli_output_message(&a->out, topic, partition, &batch->messages[i]);
        s->records++;
        s->bytes += batch->messages[i].value_len + batch->messages[i].key_len;
        printed++;
    }
    return printed;
}

static bool count_reached(const consume_args_t *a, const stats_t *s) {
    return a->count >= 0 && (int64_t)s->records >= a->count;
}

/* ---- partitions ------------------------------------------------------------------------- */

typedef struct part {
    int32_t partition;
    kk_consumer_t *consumer;
    bool at_end;
    int64_t start; /* the first offset read, for the -e total */
} part_t;

static int consume_partitions(cli_t *cli, consume_args_t *a, kk_config_t *cfg, stats_t *s) {
    const char *topic = a->topics[0];
    int rc = CLI_OK;
    kk_error_t err;
    part_t *parts = NULL;
    size_t count = 0;
    if (a->partition >= 0) {
        parts = calloc(1, sizeof(*parts));
        if (parts) {
            parts[0].partition = a->partition;
            count = 1;
        }
    } else {
        kk_client_t *client = kk_client_new(kk_config_client(cfg), &err);
        if (!client)
            return cli_fail(cli, "creating the client", &err);
        kk_topic_descriptions_t *d = NULL;
        const char *topics[] = {topic};
        if (kk_client_describe_topics(client, topics, 1, &d, &err) != KK_OK) {
            kk_client_free(client);
            return cli_fail(cli, "looking the topic up", &err);
        }
        kk_client_free(client);
        const kk_topic_info_t *t = &d->metadata->topics[0];
        if (t->error_code) {
            err.code = t->error_code;
            snprintf(err.message, sizeof(err.message), "topic %s: %s", topic,
                     kk_err_name(t->error_code));
            kk_topic_descriptions_free(d);
            return cli_fail(cli, "looking the topic up", &err);
        }
        parts = calloc(t->partition_count ? t->partition_count : 1, sizeof(*parts));
        for (size_t i = 0; parts && i < t->partition_count; i++)
            parts[count++].partition = t->partitions[i].partition;
        kk_topic_descriptions_free(d);
    }
    if (!parts) {
        fprintf(stderr, "%s consume: out of memory\n", cli->prog);
        return CLI_FAILED;
    }
    kk_consumer_config_t base = *kk_config_consumer(cfg);
    base.topic = topic;
    if (a->offset_set)
        base.offset = a->offset;
    for (size_t i = 0; i < count && rc == CLI_OK; i++) {
        kk_consumer_config_t c = base;
        c.partition = parts[i].partition;
        parts[i].consumer = kk_consumer_new(&c, &err);
        if (!parts[i].consumer || kk_consumer_connect(parts[i].consumer, &err) != KK_OK) {
            char doing[300];
            snprintf(doing, sizeof(doing), "starting at partition %d", (int)parts[i].partition);
            rc = cli_fail(cli, doing, &err);
        } else {
            parts[i].start = kk_consumer_next_offset(parts[i].consumer);
        }
    }
    cli_progress_t progress;
    cli_progress_init(&progress, cli, "records");
    size_t done = 0;
    while (rc == CLI_OK && !cli_interrupted() && !count_reached(a, s) &&
           (!a->exit_at_end || done < count)) {
        /* the total to the end is known once every partition has been fetched once */
        double target = 0;
        bool known = a->exit_at_end;
        for (size_t i = 0; i < count; i++) {
            int64_t hw = kk_consumer_highwater_mark(parts[i].consumer);
            known = known && hw >= 0;
            if (hw > parts[i].start)
                target += (double)(hw - parts[i].start);
        }
        if (a->count >= 0 && (!known || target > (double)a->count))
            target = (double)a->count, known = true;
        for (size_t i = 0; i < count && rc == CLI_OK && !count_reached(a, s); i++) {
            if (parts[i].at_end && a->exit_at_end)
                continue;
            kk_fetch_batch_t *batch = NULL;
            if (kk_consumer_fetch(parts[i].consumer, NULL, &batch, &err) != KK_OK) {
                char doing[300];
                snprintf(doing, sizeof(doing), "reading %s partition %d", topic,
                         (int)parts[i].partition);
                rc = cli_fail(cli, doing, &err);
                break;
            }
            print_batch(a, topic, parts[i].partition, batch, s);
            if (kk_consumer_next_offset(parts[i].consumer) >= batch->high_watermark &&
                !parts[i].at_end) {
                parts[i].at_end = true;
                done++;
            }
            kk_fetch_batch_free(batch);
            cli_output_flush(&a->out);
            cli_progress_update(&progress, s->records, s->bytes, (double)s->records,
                                known ? target : 0);
        }
    }
    cli_progress_end(&progress);
    for (size_t i = 0; i < count; i++)
        kk_consumer_free(parts[i].consumer);
    free(parts);
    return rc;
}

/* ---- a group member --------------------------------------------------------------------- */

/* With -e: whether every claimed partition's position has reached its end. */
static bool group_at_end(kk_group_t *g) {
    kk_topic_partition_t claimed[256];
    size_t n = kk_group_claimed(g, claimed, 256);
    if (n > 256)
        return false;
    if (n == 0)
        return false; /* not a member yet */
    kk_client_t *client = kk_group_client(g);
    for (size_t i = 0; i < n; i++) {
        kk_error_t err;
        int64_t committed = -1, low = -1, high = -1;
        if (kk_group_committed(g, claimed[i].topic, claimed[i].partition, &committed, &err) !=
                KK_OK ||
            kk_client_watermarks(client, claimed[i].topic, claimed[i].partition, &low, &high,
                                 &err) != KK_OK)
            return false;
        if (committed < high && high > low)
            return false;
    }
    return true;
}

static int consume_group(cli_t *cli, consume_args_t *a, stats_t *s) {
    int rc = CLI_OK;
    kk_config_t *cfg = cli_config(cli, KK_CONFIG_GROUP, &rc);
    if (!cfg)
        return rc;
    kk_error_t err;
    if (a->offset_set) {
        const char *reset = a->offset.kind == KK_OFFSET_EARLIEST ? "earliest"
                            : a->offset.kind == KK_OFFSET_LATEST ? "latest"
                                                                 : NULL;
        if (!reset) {
            kk_config_free(cfg);
            return cli_usage_error(
                cli,
                "with -G, -o takes beginning or end (where a partition without a commit starts)");
        }
        kk_config_set(cfg, "offset_reset", reset, &err);
    }
    kk_group_config_t *gc = kk_config_group(cfg);
    gc->group_id = a->group;
    gc->topics = a->topics;
    gc->topic_count = a->topic_count;
    /* commits follow what was printed, exactly; -X auto_commit_interval_ms=... adds the timer */
    bool auto_commit = kk_config_is_set(cfg, "auto_commit_interval_ms");
    if (!auto_commit)
        gc->auto_commit_interval_ms = 0;
    kk_group_t *g = kk_group_new(gc, &err);
    if (!g) {
        kk_config_free(cfg);
        return cli_fail(cli, "creating the group member", &err);
    }
    cli_progress_t progress;
    cli_progress_init(&progress, cli, "records");
    int idle_polls = 0;
    while (!cli_interrupted() && !count_reached(a, s)) {
        kk_fetch_batch_t *batch = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(g, 500, &batch, &tp, &err) != KK_OK) {
            rc = cli_fail(cli, "reading as a group member", &err);
            break;
        }
        if (!batch) {
            if (a->exit_at_end && ++idle_polls >= 1 && group_at_end(g))
                break;
            continue;
        }
        idle_polls = 0;
        size_t printed = print_batch(a, tp.topic, tp.partition, batch, s);
        cli_output_flush(&a->out);
        if (printed > 0) {
            int64_t next = batch->messages[printed - 1].offset + 1;
            if (kk_group_commit(g, tp.topic, tp.partition, next, &err) != KK_OK &&
                err.code != KK_ERR_NOT_ASSIGNED) {
                kk_fetch_batch_free(batch);
                rc = cli_fail(cli, "committing", &err);
                break;
            }
        }
        kk_fetch_batch_free(batch);
        cli_progress_update(&progress, s->records, s->bytes, (double)s->records,
                            a->count > 0 ? (double)a->count : 0);
    }
    cli_progress_end(&progress);
    /* leave cleanly even after Ctrl-C, so the group rebalances at once */
    bool was_interrupted = cli_interrupted();
    kk_client_clear_interrupt(kk_group_client(g));
    if (kk_group_close(g, &err) != KK_OK && rc == CLI_OK && !was_interrupted)
        rc = cli_fail(cli, "leaving the group", &err);
    kk_group_free(g);
    kk_config_free(cfg);
    return rc;
}

int cli_consume(cli_t *cli, int argc, char **argv) {
    consume_args_t a = {.partition = -1, .count = -1};
    char **pos = NULL;
    int npos = 0;
    int rc = cli_parse(cli, argc, argv, on_option, &a, &pos, &npos);
    if (rc != CLI_OK) {
        free(a.topics);
        return rc;
    }
    stats_t s = {0};
    for (int i = 0; i < npos && rc == CLI_OK; i++)
        rc = on_option(cli, &a, 0, pos[i]); /* topics may also be given as arguments */
    if (rc == CLI_OK && a.topic_count == 0)
        rc = cli_usage_error(cli, "which topic? give -t TOPIC");
    if (rc == CLI_OK && !a.group && a.topic_count > 1)
        rc = cli_usage_error(cli, "one topic at a time (or several with -G GROUP)");
    if (rc == CLI_OK && a.group && a.partition >= 0)
        rc = cli_usage_error(cli, "-p and -G do not go together: the group assigns partitions");
    if (rc == CLI_OK && a.out.mode == CLI_OUT_FORMAT && cli_output_check_format(a.out.format) != 0)
        rc = cli_usage_error(
            cli, "-f: unknown directive in '%s' (%%t %%p %%o %%k %%v %%T %%h %%%%)", a.out.format);
    if (rc == CLI_OK) {
        cli_output_init(&a.out);
        if (a.group) {
            rc = consume_group(cli, &a, &s);
        } else {
            kk_config_t *cfg = cli_config(cli, KK_CONFIG_CONSUMER, &rc);
            if (cfg) {
                rc = consume_partitions(cli, &a, cfg, &s);
                kk_config_free(cfg);
            }
        }
        cli_output_flush(&a.out);
        if (cli_interrupted()) {
            fprintf(stderr, "%s consume: stopped by Ctrl-C after %llu message(s)\n", cli->prog,
                    (unsigned long long)s.records);
            cli->summarized = true;
            rc = CLI_INTERRUPTED;
        } else if (!cli->quiet && rc == CLI_OK && cli->progress_ok) {
            fprintf(stderr, "%s consume: %llu message(s)\n", cli->prog,
                    (unsigned long long)s.records);
        }
        cli_output_free(&a.out);
    }
    free(a.topics);
    free(pos);
    return rc;
}
