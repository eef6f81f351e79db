/* kafkette cluster: brokers, controller and the API versions kafkette negotiated. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option_t options[] = {
    {0, NULL, NULL, NULL},
};

const cli_command_t cli_cluster_command = {
    "cluster",
    "",
    "Show the cluster's id, brokers and controller, and the API versions kafkette uses with it.",
    NULL,
    options,
};

static int on_option(cli_t *cli, void *ctx, int index, const char *value) {
    (void)cli, (void)ctx, (void)index, (void)value;
    return CLI_OK;
}

static const struct {
    int key;
    const char *name;
} apis[] = {
    {KK_API_PRODUCE, "Produce"},
    {KK_API_FETCH, "Fetch"},
    {KK_API_LIST_OFFSETS, "ListOffsets"},
    {KK_API_METADATA, "Metadata"},
    {KK_API_OFFSET_COMMIT, "OffsetCommit"},
    {KK_API_OFFSET_FETCH, "OffsetFetch"},
    {KK_API_FIND_COORDINATOR, "FindCoordinator"},
    {KK_API_JOIN_GROUP, "JoinGroup"},
    {KK_API_HEARTBEAT, "Heartbeat"},
    {KK_API_LEAVE_GROUP, "LeaveGroup"},
    {KK_API_SYNC_GROUP, "SyncGroup"},
    {KK_API_DESCRIBE_GROUPS, "DescribeGroups"},
    {KK_API_LIST_GROUPS, "ListGroups"},
    {KK_API_API_VERSIONS, "ApiVersions"},
    {KK_API_CREATE_TOPICS, "CreateTopics"},
    {KK_API_DELETE_TOPICS, "DeleteTopics"},
    {KK_API_DELETE_RECORDS, "DeleteRecords"},
    {KK_API_DESCRIBE_CONFIGS, "DescribeConfigs"},
    {KK_API_CREATE_PARTITIONS, "CreatePartitions"},
    {KK_API_INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs"},
};

int cli_cluster(cli_t *cli, int argc, char **argv) {
    char **pos = NULL;
    int npos = 0;
    int rc = cli_parse(cli, argc, argv, on_option, NULL, &pos, &npos);
    if (rc != CLI_OK)
        return rc;
    free(pos);
    if (npos)
        return cli_usage_error(cli, "cluster takes no arguments");
    kk_client_t *client = cli_client(cli, &rc);
    if (!client)
        return rc;
    kk_topic_descriptions_t *d = NULL;
    kk_error_t err;
    /* all topics would be a long answer on a big cluster: ask about one that need not exist
     * (describing never creates it) */
    const char *probe[] = {"__kafkette_cluster_probe"};
    if (kk_client_describe_topics(client, probe, 1, &d, &err) != KK_OK) {
        rc = cli_fail(cli, "asking for the cluster's metadata", &err);
        kk_client_free(client);
        return rc;
    }
    const kk_metadata_t *md = d->metadata;
    printf("cluster %s, bootstrapped through %s\n", md->cluster_id ? md->cluster_id : "(no id)",
           kk_client_bootstrap_broker(client));
    printf("brokers (%zu):\n", md->broker_count);
    for (size_t i = 0; i < md->broker_count; i++) {
        const kk_broker_info_t *b = &md->brokers[i];
        printf("  %d  %s:%d%s%s%s\n", (int)b->node_id, b->host, (int)b->port,
               b->rack ? "  rack " : "", b->rack ? b->rack : "",
               b->node_id == md->controller_id ? "  (controller)" : "");
    }
    printf("controller: %d\n", (int)md->controller_id);
    printf("API versions in use with %s:\n", kk_client_bootstrap_broker(client));
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        int v = kk_client_api_version(client, apis[i].key);
        if (v >= 0)
            printf("  %-24s %2d  v%d\n", apis[i].name, apis[i].key, v);
        else
            printf("  %-24s %2d  -  (no version both speak)\n", apis[i].name, apis[i].key);
    }
    kk_topic_descriptions_free(d);
    kk_client_free(client);
    return CLI_OK;
}
