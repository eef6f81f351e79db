/* kafkette groups: list, describe, lag. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option_t options[] = {
    {0, NULL, NULL, NULL},
};

const cli_command_t cli_groups_command = {
    "groups",
    "[list | describe GROUP | lag GROUP]",
    "List consumer groups, describe one (members and their partitions), or show its lag.",
    "lag compares the group's committed offsets with each partition's high watermark, without\n"
    "joining the group; a partition without a commit shows '-'.\n",
    options,
};

static int on_option(cli_t *cli, void *ctx, int index, const char *value) {
    (void)cli, (void)ctx, (void)index, (void)value;
    return CLI_OK;
}

static int list(cli_t *cli, kk_client_t *client) {
    kk_group_listing_t *groups;
    size_t count;
    kk_error_t err;
    if (kk_client_list_groups(client, &groups, &count, &err) != KK_OK)
        return cli_fail(cli, "listing groups", &err);
    if (count)
        printf("%-40s  %-10s  %-12s  %s\n", "group", "type", "state", "coordinator");
    for (size_t i = 0; i < count; i++) {
        const kk_group_listing_t *g = &groups[i];
        const char *type = g->protocol_type[0] ? g->protocol_type : g->type ? g->type : "-";
        printf("%-40s  %-10s  %-12s  %d\n", g->group_id, type, g->state ? g->state : "-",
               (int)g->coordinator);
    }
    kk_group_listings_free(groups, count);
    return CLI_OK;
}

static int describe(cli_t *cli, kk_client_t *client, const char *group) {
    kk_group_description_t *d;
    kk_error_t err;
    if (kk_client_describe_group(client, group, &d, &err) != KK_OK)
        return cli_fail(cli, "describing the group", &err);
    printf("group %s: %s, protocol type %s, assignor %s, coordinator %d, %zu member(s)\n",
           d->group_id, d->state, d->protocol_type[0] ? d->protocol_type : "-",
           d->protocol[0] ? d->protocol : "-", (int)d->coordinator, d->member_count);
    for (size_t i = 0; i < d->member_count; i++) {
        const kk_group_member_description_t *m = &d->members[i];
        printf("  member %s\n    client %s at %s%s%s\n", m->member_id, m->client_id, m->client_host,
               m->group_instance_id ? ", instance " : "",
               m->group_instance_id ? m->group_instance_id : "");
        if (m->assignment_error) {
            printf("    assignment: %zu bytes that do not decode (%s)\n", m->assignment_len,
                   kk_err_name(m->assignment_error));
            continue;
        }
        printf("    assignment:");
        if (m->assignment_count == 0)
            printf(" none");
        for (size_t j = 0; j < m->assignment_count; j++) {
            bool new_topic =
                j == 0 || strcmp(m->assignment[j - 1].topic, m->assignment[j].topic) != 0;
            if (new_topic)
                printf("%s %s[", j ? "]" : "", m->assignment[j].topic);
            printf("%s%d", new_topic ? "" : ",", (int)m->assignment[j].partition);
        }
        printf("%s\n", m->assignment_count ? "]" : "");
    }
    if (strcmp(d->state, "Dead") == 0)
        printf("(no such group, or it has expired)\n");
    kk_group_description_free(d);
    return CLI_OK;
}

static int lag(cli_t *cli, kk_client_t *client, const char *group) {
    kk_partition_lag_t *lags;
    size_t count;
    kk_error_t err;
    if (kk_client_group_lag(client, group, &lags, &count, &err) != KK_OK)
        return cli_fail(cli, "computing the group's lag", &err);
    if (count == 0) {
        printf("group %s has committed no offsets\n", group);
        kk_partition_lags_free(lags, count);
        return CLI_OK;
    }
    printf("%-30s  %9s  %12s  %12s  %10s\n", "topic", "partition", "committed", "end", "lag");
    int64_t total = 0;
    size_t uncommitted = 0;
    for (size_t i = 0; i < count; i++) {
        const kk_partition_lag_t *l = &lags[i];
        char committed[32] = "-", end[32] = "?", behind[32] = "-";
        uncommitted += l->committed < 0;
        if (l->committed >= 0)
            snprintf(committed, sizeof(committed), "%lld", (long long)l->committed);
        if (l->end >= 0)
            snprintf(end, sizeof(end), "%lld", (long long)l->end);
        if (l->lag >= 0) {
            snprintf(behind, sizeof(behind), "%lld", (long long)l->lag);
            total += l->lag;
        }
        printf("%-30s  %9d  %12s  %12s  %10s%s%s\n", l->topic, (int)l->partition, committed, end,
               behind, l->error ? "  " : "", l->error ? kk_err_name(l->error) : "");
    }
    if (uncommitted)
        printf("total lag %lld (and %zu partition(s) without a commit)\n", (long long)total,
               uncommitted);
    else
        printf("total lag %lld\n", (long long)total);
    kk_partition_lags_free(lags, count);
    return CLI_OK;
}

int cli_groups(cli_t *cli, int argc, char **argv) {
    char **pos = NULL;
    int npos = 0;
    int rc = cli_parse(cli, argc, argv, on_option, NULL, &pos, &npos);
    if (rc != CLI_OK)
        return rc;
    const char *action = npos > 0 ? pos[0] : "list";
    kk_client_t *client = NULL;
    if (strcmp(action, "list") == 0 && npos <= 1) {
        client = cli_client(cli, &rc);
        if (client)
            rc = list(cli, client);
    } else if ((strcmp(action, "describe") == 0 || strcmp(action, "lag") == 0) && npos == 2) {
        client = cli_client(cli, &rc);
        if (client)
            rc = action[0] == 'd' ? describe(cli, client, pos[1]) : lag(cli, client, pos[1]);
    } else if (strcmp(action, "list") == 0 || strcmp(action, "describe") == 0 ||
               strcmp(action, "lag") == 0) {
        rc = cli_usage_error(cli, "%s takes %s", action,
                             action[1] == 'i' ? "no argument" : "one group id");
    } else {
        rc = cli_usage_error(cli, "unknown action '%s' (list, describe, lag)", action);
    }
    kk_client_free(client);
    free(pos);
    return rc;
}
