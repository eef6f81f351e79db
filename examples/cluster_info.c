/* Prints what a Kafka cluster says about itself: brokers, negotiated API versions, topics.
 *   kafkette-cluster-info host:port[,host:port...] [topic...]                              */
#include <stdio.h>
#include <stdlib.h>

#include "kafkette.h"

static const struct {
    int key;
    const char *name;
} shown_apis[] = {
    {KK_API_PRODUCE, "Produce"},          {KK_API_FETCH, "Fetch"},
    {KK_API_LIST_OFFSETS, "ListOffsets"}, {KK_API_METADATA, "Metadata"},
    {KK_API_API_VERSIONS, "ApiVersions"},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s host:port[,host:port...] [topic...]\n", argv[0]);
        return 2;
    }
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = argv[1];
    cfg.client_id = "kafkette-cluster-info";
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    if (!client) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    kk_metadata_t *md = NULL;
    if (kk_client_metadata(client, (const char *const *)argv + 2, (size_t)(argc - 2), &md, &err)) {
        fprintf(stderr, "error: %s (%s)\n", err.message, kk_err_name(err.code));
        kk_client_free(client);
        return 1;
    }
    printf("cluster %s, bootstrapped through %s\n", md->cluster_id ? md->cluster_id : "(unnamed)",
           kk_client_bootstrap_broker(client));
    printf("\nnegotiated API versions:\n");
    for (size_t i = 0; i < sizeof(shown_apis) / sizeof(shown_apis[0]); i++) {
        int v = kk_client_api_version(client, shown_apis[i].key);
        if (v >= 0)
            printf("  %-12s v%d\n", shown_apis[i].name, v);
        else
            printf("  %-12s (not yet implemented by kafkette, or not offered)\n",
                   shown_apis[i].name);
    }
    printf("\nbrokers (%zu):\n", md->broker_count);
    for (size_t i = 0; i < md->broker_count; i++)
        printf("  %d  %s:%d%s\n", md->brokers[i].node_id, md->brokers[i].host, md->brokers[i].port,
               md->brokers[i].node_id == md->controller_id ? "  (controller)" : "");
    printf("\ntopics (%zu):\n", md->topic_count);
    for (size_t i = 0; i < md->topic_count; i++) {
        const kk_topic_info_t *t = &md->topics[i];
        printf("  %s%s: %zu partition(s)%s%s\n", t->name ? t->name : "?",
               t->is_internal ? " (internal)" : "", t->partition_count,
               t->error_code ? ", error " : "", t->error_code ? kk_err_name(t->error_code) : "");
        for (size_t j = 0; j < t->partition_count; j++)
            printf("    partition %d: leader %d, %zu replica(s), %zu in sync\n",
                   t->partitions[j].partition, t->partitions[j].leader,
                   t->partitions[j].replica_count, t->partitions[j].isr_count);
    }
    kk_metadata_free(md);
    kk_client_free(client);
    return 0;
}
