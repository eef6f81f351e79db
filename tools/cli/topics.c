/* kafkette topics: list, describe, create, alter, configs, delete. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option_t options[] = {
    {'P', "partitions", "N", "create: partitions (default: the broker's); alter: grow to N"},
    {'R', "replication", "N", "create: replication factor (default: the broker's)"},
    {'C', "config", "NAME=VALUE", "create/alter: set a topic config; repeatable"},
    {0, "delete-config", "NAME", "alter: back to the default; repeatable"},
    {'a', "all", NULL, "list: internal topics too"},
    {0, NULL, NULL, NULL},
};

const cli_command_t cli_topics_command = {
    "topics",
    "[list | describe [TOPIC...] | create TOPIC [-P N] [-R N] [-C NAME=VALUE...] |\n"
    "                       alter TOPIC [-P N] [-C NAME=VALUE...] [--delete-config NAME...] |\n"
    "                       configs TOPIC | delete TOPIC]",
    "List, describe, create, change and delete topics.",
    "describe shows every partition's leader, replicas, in-sync replicas, log start offset and\n"
    "high watermark (every topic when none is named). configs shows a topic's settings and where\n"
    "each comes from.\n",
    options,
};

typedef struct topics_args {
    int32_t partitions;
    int16_t replication;
    kk_config_alteration_t *changes;
    size_t change_count;
    bool all;
} topics_args_t;

static int add_change(topics_args_t *a, const char *name, kk_alter_op_t op, const char *value) {
    kk_config_alteration_t *grown = realloc(a->changes, (a->change_count + 1) * sizeof(*grown));
    if (!grown)
        return CLI_FAILED;
    a->changes = grown;
    a->changes[a->change_count++] = (kk_config_alteration_t){name, op, value};
    return CLI_OK;
}

static int on_option(cli_t *cli, void *ctx, int index, const char *value) {
    topics_args_t *a = ctx;
    int64_t n;
    switch (index) {
    case 0:
        if (!cli_parse_int(value, 1, INT32_MAX, &n))
            return cli_usage_error(cli, "-P takes a positive partition count, not '%s'", value);
        a->partitions = (int32_t)n;
        return CLI_OK;
    case 1:
        if (!cli_parse_int(value, 1, INT16_MAX, &n))
            return cli_usage_error(cli, "-R takes a positive replication factor, not '%s'", value);
        a->replication = (int16_t)n;
        return CLI_OK;
    case 2: {
        char *eq = strchr(value, '=');
        if (!eq || eq == value)
            return cli_usage_error(cli, "-C takes NAME=VALUE, not '%s'", value);
        *eq = '\0'; /* argv is ours to cut */
        return add_change(a, value, KK_ALTER_SET, eq + 1);
    }
    case 3:
        return add_change(a, value, KK_ALTER_DELETE, NULL);
    default:
        a->all = true;
        return CLI_OK;
    }
}

/* Node ids comma-separated, padded to width. */
static void print_ids(const int32_t *ids, size_t n, int width) {
    int used = 0;
    for (size_t i = 0; i < n; i++)
        used += printf("%s%d", i ? "," : "", (int)ids[i]);
    printf("%*s  ", width - used > 0 ? width - used : 0, "");
}

static int describe(cli_t *cli, kk_client_t *client, char **topics, int n) {
    kk_topic_descriptions_t *d;
    kk_error_t err;
    if (kk_client_describe_topics(client, (const char *const *)topics, (size_t)n, &d, &err) !=
        KK_OK)
        return cli_fail(cli, "describing topics", &err);
    int rc = CLI_OK;
    for (size_t i = 0; i < d->metadata->topic_count; i++) {
        const kk_topic_info_t *t = &d->metadata->topics[i];
        if (t->error_code) {
            err.code = t->error_code;
            snprintf(err.message, sizeof(err.message), "topic %s: %s", t->name,
                     kk_err_name(t->error_code));
            rc = cli_fail(cli, "describing topics", &err);
            continue;
        }
        int64_t records = 0;
        for (size_t p = 0; p < t->partition_count; p++)
            if (d->watermarks[i][p].high_watermark >= 0)
                records +=
                    d->watermarks[i][p].high_watermark - d->watermarks[i][p].log_start_offset;
        printf("topic %s: %zu partition(s), %lld record(s)%s\n", t->name, t->partition_count,
               (long long)records, t->is_internal ? ", internal" : "");
        printf("  %9s  %6s  %-10s  %-10s  %12s  %14s\n", "partition", "leader", "replicas", "isr",
               "log start", "high watermark");
        for (size_t p = 0; p < t->partition_count; p++) {
            const kk_partition_info_t *pi = &t->partitions[p];
            const kk_partition_watermarks_t *w = &d->watermarks[i][p];
            printf("  %9d  %6d  ", (int)pi->partition, (int)pi->leader);
            print_ids(pi->replicas, pi->replica_count, 10);
            print_ids(pi->isr, pi->isr_count, 10);
            if (w->error)
                printf("%12s  %14s  (%s)\n", "?", "?", kk_err_name(w->error));
            else
                printf("%12lld  %14lld\n", (long long)w->log_start_offset,
                       (long long)w->high_watermark);
        }
    }
    kk_topic_descriptions_free(d);
    return rc;
}

static int configs(cli_t *cli, kk_client_t *client, const char *topic) {
    kk_resource_configs_t *c;
    kk_error_t err;
    if (kk_client_describe_configs(client, KK_RESOURCE_TOPIC, topic, &c, &err) != KK_OK)
        return cli_fail(cli, "describing the topic's configs", &err);
    for (size_t i = 0; i < c->count; i++) {
        const kk_resource_config_t *e = &c->entries[i];
        printf("%s=%s  (%s%s)\n", e->name,
               e->is_sensitive ? "<sensitive>"
               : e->value      ? e->value
                               : "",
               kk_config_source_name(e->source), e->read_only ? ", read-only" : "");
    }
    kk_resource_configs_free(c);
    return CLI_OK;
}

int cli_topics(cli_t *cli, int argc, char **argv) {
    topics_args_t a = {.partitions = -1, .replication = -1};
    char **pos = NULL;
    int npos = 0;
    int rc = cli_parse(cli, argc, argv, on_option, &a, &pos, &npos);
    if (rc != CLI_OK) {
        free(a.changes);
        return rc;
    }
    const char *action = npos > 0 ? pos[0] : "list";
    char **args = pos + (npos > 0 ? 1 : 0);
    int nargs = npos > 0 ? npos - 1 : 0;
    bool known = strcmp(action, "list") == 0 || strcmp(action, "describe") == 0 ||
                 strcmp(action, "create") == 0 || strcmp(action, "alter") == 0 ||
                 strcmp(action, "configs") == 0 || strcmp(action, "delete") == 0;
    bool one_topic = strcmp(action, "list") != 0 && strcmp(action, "describe") != 0;
    kk_client_t *client = NULL;
    kk_error_t err;
    if (!known)
        rc = cli_usage_error(
            cli, "unknown action '%s' (list, describe, create, alter, configs, delete)", action);
    else if (one_topic && nargs != 1)
        rc = cli_usage_error(cli, "%s takes one topic", action);
    else if (strcmp(action, "list") == 0 && nargs)
        rc = cli_usage_error(cli, "list takes no topic (describe does)");
    else if (strcmp(action, "alter") == 0 && a.partitions < 0 && a.change_count == 0)
        rc = cli_usage_error(cli, "alter what? give -P N, -C NAME=VALUE or --delete-config NAME");
    else
        client = cli_client(cli, &rc);
    if (!client)
        goto done;

    if (strcmp(action, "list") == 0) {
        char **names;
        size_t count;
        if (kk_client_list_topics(client, a.all, &names, &count, &err) != KK_OK) {
            rc = cli_fail(cli, "listing topics", &err);
            goto done;
        }
        for (size_t i = 0; i < count; i++)
            printf("%s\n", names[i]);
        kk_strings_free(names, count);
    } else if (strcmp(action, "describe") == 0) {
        rc = describe(cli, client, args, nargs);
    } else if (strcmp(action, "configs") == 0) {
        rc = configs(cli, client, args[0]);
    } else if (strcmp(action, "create") == 0) {
        kk_topic_config_t *cfgs = calloc(a.change_count + 1, sizeof(*cfgs));
        for (size_t i = 0; cfgs && i < a.change_count; i++)
            cfgs[i] = (kk_topic_config_t){a.changes[i].name, a.changes[i].value};
        if (kk_client_create_topic(client, args[0], a.partitions, a.replication, cfgs,
                                   a.change_count, 30000, &err) != KK_OK)
            rc = cli_fail(cli, "creating the topic", &err);
        else
            printf("created topic %s\n", args[0]);
        free(cfgs);
    } else if (strcmp(action, "alter") == 0) {
        if (a.partitions > 0) {
            if (kk_client_create_partitions(client, args[0], a.partitions, 30000, &err) != KK_OK) {
                rc = cli_fail(cli, "adding partitions", &err);
                goto done;
            }
            printf("topic %s now has %d partitions\n", args[0], (int)a.partitions);
        }
        if (a.change_count) {
            if (kk_client_alter_configs(client, KK_RESOURCE_TOPIC, args[0], a.changes,
                                        a.change_count, false, &err) != KK_OK) {
                rc = cli_fail(cli, "changing the topic's configs", &err);
                goto done;
            }
            printf("changed %zu config(s) of topic %s\n", a.change_count, args[0]);
        }
    } else {
        if (kk_client_delete_topic(client, args[0], 30000, &err) != KK_OK)
            rc = cli_fail(cli, "deleting the topic", &err);
        else
            printf("deleted topic %s\n", args[0]);
    }
done:
    kk_client_free(client);
    free(a.changes);
    free(pos);
    return rc;
}
