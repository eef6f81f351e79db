/*
 * Kafkette::Client: a bare core client for topic administration and metadata (tests and tools
 * use it to create topics with a given number of partitions), and the native half of
 * Kafkette::Admin (ruby/lib/kafkette/admin.rb), which names what the _private methods return.
 */
#include "kafkette_ext.h"

#include <string.h>

typedef struct kke_client {
    kke_head_t head; /* first: the shared helpers see a kke_head_t */
} kke_client_t;

static void client_release(kke_head_t *h) { kk_client_free(h->client); }

static void client_free(void *ptr) {
    kke_client_t *c = ptr;
    kk_client_free(c->head.client); /* closes sockets; never waits */
    kke_log_free(&c->head.log);
    xfree(c);
}

static void client_mark(void *ptr) { kke_head_mark(ptr); }

static size_t client_memsize(const void *ptr) {
    const kke_client_t *c = ptr;
    return sizeof(*c) + kke_head_memsize(&c->head);
}

static const rb_data_type_t client_type = {
    .wrap_struct_name = "Kafkette::Client",
    .function = {.dmark = client_mark, .dfree = client_free, .dsize = client_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE client_alloc(VALUE klass) {
    kke_client_t *c;
    VALUE self = TypedData_Make_Struct(klass, kke_client_t, &client_type, c);
    kke_head_init(&c->head, client_release, "Kafkette::Errors::ClosedError", "client");
    return self;
}

static kke_client_t *get_client(VALUE self) {
    kke_client_t *c;
    TypedData_Get_Struct(self, kke_client_t, &client_type, c);
    return c;
}

/* _setup(brokers, client_id, options) */
static VALUE client_setup(VALUE self, VALUE brokers, VALUE client_id, VALUE opts) {
    kke_client_t *c = get_client(self);
    kk_config_t *cfg;
    VALUE holder = kke_config_setup(&c->head, KK_CONFIG_CLIENT, brokers, client_id, opts, Qnil, &cfg);
    kk_error_t err;
    c->head.client = kk_client_new(kk_config_client(cfg), &err);
    kke_config_done(holder);
    if (!c->head.client)
        kke_raise(err.code, err.message);
    return self;
}

typedef struct admin_call {
    kk_client_t *client;
    const char *topic;
    int32_t partitions;
    int16_t replication_factor;
    const kk_topic_config_t *configs;
    size_t config_count;
    int32_t partition;
    int64_t offset;
    int timeout_ms;
    int64_t low_watermark;
    int rc;
    kk_error_t err;
} admin_call_t;

static void *create_nogvl(void *arg) {
    admin_call_t *a = arg;
    a->rc = kk_client_create_topic(a->client, a->topic, a->partitions, a->replication_factor, a->configs,
                                   a->config_count, a->timeout_ms, &a->err);
    return NULL;
}

static void *delete_nogvl(void *arg) {
    admin_call_t *a = arg;
    a->rc = kk_client_delete_topic(a->client, a->topic, a->timeout_ms, &a->err);
    return NULL;
}

static void *delete_records_nogvl(void *arg) {
    admin_call_t *a = arg;
    a->rc = kk_client_delete_records(a->client, a->topic, a->partition, a->offset, a->timeout_ms, &a->low_watermark,
                                     &a->err);
    return NULL;
}

static void run_admin(kke_client_t *c, void *(*fn)(void *), admin_call_t *a) {
    int rc = kke_run(&c->head, fn, a, &a->rc);
    kke_log_flush(&c->head.log);
    if (rc != KK_OK)
        kke_raise_callback_error(&c->head); /* a token provider's */
    if (rc != KK_OK)
        kke_raise(a->err.code ? a->err.code : rc, a->err.message);
}

/* _create_topic(name, partitions, replication_factor, configs_array, timeout_ms) */
static VALUE client_create_topic(VALUE self, VALUE name, VALUE partitions, VALUE rf, VALUE configs, VALUE timeout) {
    kke_client_t *c = get_client(self);
    admin_call_t a;
    memset(&a, 0, sizeof(a));
    a.topic = kke_cstr_arg(name, "topic");
    a.partitions = (int32_t)kke_int_in_range(partitions, -1, INT32_MAX, "partitions");
    a.replication_factor = (int16_t)kke_int_in_range(rf, -1, INT16_MAX, "replication_factor");
    a.timeout_ms = (int)kke_int_in_range(timeout, 0, INT32_MAX, "timeout_ms");
    VALUE configs_buf = 0;
    if (!NIL_P(configs)) {
        Check_Type(configs, T_ARRAY);
        long n = RARRAY_LEN(configs);
        kk_topic_config_t *list = ALLOCV_N(kk_topic_config_t, configs_buf, n > 0 ? n : 1);
        for (long i = 0; i < n; i++) {
            VALUE pair = RARRAY_AREF(configs, i);
            Check_Type(pair, T_ARRAY);
            if (RARRAY_LEN(pair) != 2)
                rb_raise(rb_eArgError, "configs entries are [name, value] pairs");
            list[i].name = kke_cstr_arg(RARRAY_AREF(pair, 0), "config name");
            list[i].value = kke_cstr_arg(RARRAY_AREF(pair, 1), "config value");
        }
        a.configs = list;
        a.config_count = (size_t)n;
    }
    kke_enter(&c->head);
    a.client = c->head.client;
    run_admin(c, create_nogvl, &a);
    if (configs_buf)
        ALLOCV_END(configs_buf);
    RB_GC_GUARD(configs);
    RB_GC_GUARD(name);
    return Qnil;
}

/* _delete_topic(name, timeout_ms) */
static VALUE client_delete_topic(VALUE self, VALUE name, VALUE timeout) {
    kke_client_t *c = get_client(self);
    admin_call_t a;
    memset(&a, 0, sizeof(a));
    a.topic = kke_cstr_arg(name, "topic");
    a.timeout_ms = (int)kke_int_in_range(timeout, 0, INT32_MAX, "timeout_ms");
    kke_enter(&c->head);
    a.client = c->head.client;
    run_admin(c, delete_nogvl, &a);
    RB_GC_GUARD(name);
    return Qnil;
}

/* _delete_records(name, partition, before_offset, timeout_ms) -> new log start offset */
static VALUE client_delete_records(VALUE self, VALUE name, VALUE partition, VALUE offset, VALUE timeout) {
    kke_client_t *c = get_client(self);
    admin_call_t a;
    memset(&a, 0, sizeof(a));
    a.topic = kke_cstr_arg(name, "topic");
    a.partition = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition");
    a.offset = (int64_t)kke_int_in_range(offset, -1, INT64_MAX, "offset");
    a.timeout_ms = (int)kke_int_in_range(timeout, 0, INT32_MAX, "timeout_ms");
    kke_enter(&c->head);
    a.client = c->head.client;
    run_admin(c, delete_records_nogvl, &a);
    RB_GC_GUARD(name);
    return LL2NUM(a.low_watermark);
}

static VALUE client_partition_counts(VALUE self, VALUE topics) {
    return kke_partition_counts(&get_client(self)->head, topics);
}

/* ---- the administration API (Kafkette::Admin in ruby/lib/kafkette/admin.rb names the results) -- */

typedef struct query_call {
    kk_client_t *client;
    int op;
    const char *name; /* topic or group id, or a config resource's name */
    const char *const *names;
    size_t name_count;
    int32_t partition;
    int64_t timestamp;
    int type;
    bool flag;
    const kk_config_alteration_t *alts;
    size_t alt_count;
    /* out */
    char **strings;
    size_t count;
    kk_topic_descriptions_t *topics;
    int64_t a, b;
    kk_group_listing_t *groups;
    kk_group_description_t *group;
    kk_partition_lag_t *lags;
    kk_resource_configs_t *configs;
    int rc;
    kk_error_t err;
} query_call_t;

enum { Q_LIST_TOPICS, Q_DESCRIBE_TOPICS, Q_PARTITIONS, Q_WATERMARKS, Q_OFFSET_FOR_TIME, Q_LIST_GROUPS,
       Q_DESCRIBE_GROUP, Q_GROUP_LAG, Q_DESCRIBE_CONFIGS, Q_ALTER_CONFIGS };

static void *query_nogvl(void *arg) {
    query_call_t *q = arg;
    kk_client_t *c = q->client;
    kk_error_t *e = &q->err;
    switch (q->op) {
    case Q_LIST_TOPICS: q->rc = kk_client_list_topics(c, q->flag, &q->strings, &q->count, e); break;
    case Q_DESCRIBE_TOPICS: q->rc = kk_client_describe_topics(c, q->names, q->name_count, &q->topics, e); break;
    case Q_PARTITIONS: q->rc = kk_client_create_partitions(c, q->name, q->partition, q->type, e); break;
    case Q_WATERMARKS: q->rc = kk_client_watermarks(c, q->name, q->partition, &q->a, &q->b, e); break;
    case Q_OFFSET_FOR_TIME:
        q->rc = kk_client_offset_for_time(c, q->name, q->partition, q->timestamp, &q->a, &q->b, e);
        break;
    case Q_LIST_GROUPS: q->rc = kk_client_list_groups(c, &q->groups, &q->count, e); break;
    case Q_DESCRIBE_GROUP: q->rc = kk_client_describe_group(c, q->name, &q->group, e); break;
    case Q_GROUP_LAG: q->rc = kk_client_group_lag(c, q->name, &q->lags, &q->count, e); break;
    case Q_DESCRIBE_CONFIGS:
        q->rc = kk_client_describe_configs(c, (kk_resource_type_t)q->type, q->name, &q->configs, e);
        break;
    case Q_ALTER_CONFIGS:
        q->rc = kk_client_alter_configs(c, (kk_resource_type_t)q->type, q->name, q->alts, q->alt_count, q->flag, e);
        break;
    }
    return NULL;
}

/* Runs the query; raises (nothing to free: a failed core call hands nothing out). */
static void run_query(kke_client_t *c, query_call_t *q) {
    kke_enter(&c->head);
    q->client = c->head.client;
    int rc = kke_run(&c->head, query_nogvl, q, &q->rc);
    kke_log_flush(&c->head.log);
    if (rc != KK_OK)
        kke_raise(q->err.code ? q->err.code : rc, q->err.message);
}

static VALUE str_or_nil(const char *s) { return s ? rb_utf8_str_new_cstr(s) : Qnil; }

static VALUE int_array(const int32_t *v, size_t n) {
    VALUE a = rb_ary_new_capa((long)n);
    for (size_t i = 0; i < n; i++)
        rb_ary_push(a, INT2NUM(v[i]));
    return a;
}

/* _list_topics(include_internal) -> [name] */
static VALUE client_list_topics(VALUE self, VALUE internal) {
    query_call_t q = {.op = Q_LIST_TOPICS, .flag = RTEST(internal)};
    run_query(get_client(self), &q);
    VALUE list = rb_ary_new_capa((long)q.count);
    for (size_t i = 0; i < q.count; i++)
        rb_ary_push(list, str_or_nil(q.strings[i]));
    kk_strings_free(q.strings, q.count);
    return list;
}

/* _describe_topics(names or nil) -> [[name, error, internal, [[partition, leader, replicas, isr, offline,
 * log_start, high_watermark]]]] */
static VALUE client_describe_topics(VALUE self, VALUE topics) {
    VALUE list = NIL_P(topics) ? rb_ary_new() : rb_ary_dup(topics);
    Check_Type(list, T_ARRAY);
    long n = RARRAY_LEN(list);
    VALUE names_buf = 0;
    const char **names = ALLOCV_N(const char *, names_buf, n > 0 ? n : 1);
    for (long i = 0; i < n; i++)
        names[i] = kke_cstr_arg(RARRAY_AREF(list, i), "topic");
    query_call_t q = {.op = Q_DESCRIBE_TOPICS, .names = names, .name_count = (size_t)n};
    kke_client_t *c = get_client(self);
    kke_enter(&c->head);
    q.client = c->head.client;
    int rc = kke_run(&c->head, query_nogvl, &q, &q.rc);
    ALLOCV_END(names_buf);
    RB_GC_GUARD(list);
    kke_log_flush(&c->head.log);
    if (rc != KK_OK)
        kke_raise(q.err.code ? q.err.code : rc, q.err.message);
    const kk_metadata_t *md = q.topics->metadata;
    VALUE result = rb_ary_new_capa((long)md->topic_count);
    for (size_t t = 0; t < md->topic_count; t++) {
        const kk_topic_info_t *ti = &md->topics[t];
        VALUE parts = rb_ary_new_capa((long)ti->partition_count);
        for (size_t p = 0; p < ti->partition_count; p++) {
            const kk_partition_info_t *pi = &ti->partitions[p];
            const kk_partition_watermarks_t *w = &q.topics->watermarks[t][p];
            VALUE row[] = {INT2NUM(pi->partition), INT2NUM(pi->leader), int_array(pi->replicas, pi->replica_count),
                           int_array(pi->isr, pi->isr_count),
                           int_array(pi->offline_replicas, pi->offline_replica_count),
                           LL2NUM(w->log_start_offset), LL2NUM(w->high_watermark)};
            rb_ary_push(parts, rb_ary_new_from_values(7, row));
        }
        VALUE row[] = {str_or_nil(ti->name), INT2NUM(ti->error_code), ti->is_internal ? Qtrue : Qfalse, parts};
        rb_ary_push(result, rb_ary_new_from_values(4, row));
    }
    kk_topic_descriptions_free(q.topics);
    return result;
}

/* _create_partitions(topic, total_count, timeout_ms) */
static VALUE client_create_partitions(VALUE self, VALUE topic, VALUE total, VALUE timeout) {
    query_call_t q = {.op = Q_PARTITIONS,
                      .name = kke_cstr_arg(topic, "topic"),
                      .partition = (int32_t)kke_int_in_range(total, 1, INT32_MAX, "total_count"),
                      .type = (int)kke_int_in_range(timeout, 0, INT32_MAX, "timeout_ms")};
    run_query(get_client(self), &q);
    RB_GC_GUARD(topic);
    return Qnil;
}

/* _watermarks(topic, partition) -> [low, high] */
static VALUE client_watermarks(VALUE self, VALUE topic, VALUE partition) {
    query_call_t q = {.op = Q_WATERMARKS,
                      .name = kke_cstr_arg(topic, "topic"),
                      .partition = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition")};
    run_query(get_client(self), &q);
    RB_GC_GUARD(topic);
    return rb_assoc_new(LL2NUM(q.a), LL2NUM(q.b));
}

/* _offset_for_time(topic, partition, timestamp_ms) -> [offset, timestamp] */
static VALUE client_offset_for_time(VALUE self, VALUE topic, VALUE partition, VALUE ts) {
    query_call_t q = {.op = Q_OFFSET_FOR_TIME,
                      .name = kke_cstr_arg(topic, "topic"),
                      .partition = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition"),
                      .timestamp = (int64_t)kke_int_in_range(ts, -2, INT64_MAX, "timestamp_ms")};
    run_query(get_client(self), &q);
    RB_GC_GUARD(topic);
    return rb_assoc_new(LL2NUM(q.a), LL2NUM(q.b));
}

/* _list_groups -> [[group_id, protocol_type, state, type, coordinator]] */
static VALUE client_list_groups(VALUE self) {
    query_call_t q = {.op = Q_LIST_GROUPS};
    run_query(get_client(self), &q);
    VALUE list = rb_ary_new_capa((long)q.count);
    for (size_t i = 0; i < q.count; i++) {
        const kk_group_listing_t *g = &q.groups[i];
        VALUE row[] = {str_or_nil(g->group_id), str_or_nil(g->protocol_type), str_or_nil(g->state),
                       str_or_nil(g->type), INT2NUM(g->coordinator)};
        rb_ary_push(list, rb_ary_new_from_values(5, row));
    }
    kk_group_listings_free(q.groups, q.count);
    return list;
}

/* _describe_group(id) -> [group_id, state, protocol_type, protocol, coordinator,
 *                         [[member_id, instance_id, client_id, client_host, [[topic, partition]]]]] */
static VALUE client_describe_group(VALUE self, VALUE group_id) {
    query_call_t q = {.op = Q_DESCRIBE_GROUP, .name = kke_cstr_arg(group_id, "group_id")};
    run_query(get_client(self), &q);
    RB_GC_GUARD(group_id);
    const kk_group_description_t *d = q.group;
    VALUE members = rb_ary_new_capa((long)d->member_count);
    for (size_t i = 0; i < d->member_count; i++) {
        const kk_group_member_description_t *m = &d->members[i];
        VALUE assigned = rb_ary_new_capa((long)m->assignment_count);
        for (size_t j = 0; j < m->assignment_count; j++)
            rb_ary_push(assigned, rb_assoc_new(str_or_nil(m->assignment[j].topic), INT2NUM(m->assignment[j].partition)));
        VALUE row[] = {str_or_nil(m->member_id), str_or_nil(m->group_instance_id), str_or_nil(m->client_id),
                       str_or_nil(m->client_host), assigned};
        rb_ary_push(members, rb_ary_new_from_values(5, row));
    }
    VALUE row[] = {str_or_nil(d->group_id), str_or_nil(d->state), str_or_nil(d->protocol_type),
                   str_or_nil(d->protocol), INT2NUM(d->coordinator), members};
    kk_group_description_free(q.group);
    return rb_ary_new_from_values(6, row);
}

/* _group_lag(id) -> [[topic, partition, committed, end, lag, error]] */
static VALUE client_group_lag(VALUE self, VALUE group_id) {
    query_call_t q = {.op = Q_GROUP_LAG, .name = kke_cstr_arg(group_id, "group_id")};
    run_query(get_client(self), &q);
    RB_GC_GUARD(group_id);
    VALUE list = rb_ary_new_capa((long)q.count);
    for (size_t i = 0; i < q.count; i++) {
        const kk_partition_lag_t *l = &q.lags[i];
        VALUE row[] = {str_or_nil(l->topic), INT2NUM(l->partition), LL2NUM(l->committed), LL2NUM(l->end),
                       LL2NUM(l->lag), INT2NUM(l->error)};
        rb_ary_push(list, rb_ary_new_from_values(6, row));
    }
    kk_partition_lags_free(q.lags, q.count);
    return list;
}

/* _describe_configs(type, name) -> [[name, value, source, read_only, is_default, is_sensitive]] */
static VALUE client_describe_configs(VALUE self, VALUE type, VALUE name) {
    query_call_t q = {.op = Q_DESCRIBE_CONFIGS,
                      .type = (int)kke_int_in_range(type, 0, 127, "resource type"),
                      .name = kke_cstr_arg(name, "name")};
    run_query(get_client(self), &q);
    RB_GC_GUARD(name);
    VALUE list = rb_ary_new_capa((long)q.configs->count);
    for (size_t i = 0; i < q.configs->count; i++) {
        const kk_resource_config_t *e = &q.configs->entries[i];
        VALUE row[] = {str_or_nil(e->name), str_or_nil(e->value), str_or_nil(kk_config_source_name(e->source)),
                       e->read_only ? Qtrue : Qfalse, e->is_default ? Qtrue : Qfalse,
                       e->is_sensitive ? Qtrue : Qfalse};
        rb_ary_push(list, rb_ary_new_from_values(6, row));
    }
    kk_resource_configs_free(q.configs);
    return list;
}

/* _alter_configs(type, name, [[config, op, value or nil]], validate_only) */
static VALUE client_alter_configs(VALUE self, VALUE type, VALUE name, VALUE changes, VALUE validate_only) {
    Check_Type(changes, T_ARRAY);
    VALUE list = rb_ary_dup(changes);
    long n = RARRAY_LEN(list);
    VALUE buf = 0;
    kk_config_alteration_t *alts = ALLOCV_N(kk_config_alteration_t, buf, n > 0 ? n : 1);
    for (long i = 0; i < n; i++) {
        VALUE row = RARRAY_AREF(list, i);
        Check_Type(row, T_ARRAY);
        if (RARRAY_LEN(row) != 3)
            rb_raise(rb_eArgError, "config changes are [name, op, value] triples");
        alts[i].name = kke_cstr_arg(RARRAY_AREF(row, 0), "config name");
        alts[i].op = (kk_alter_op_t)kke_int_in_range(RARRAY_AREF(row, 1), 0, 3, "op");
        alts[i].value = NIL_P(RARRAY_AREF(row, 2)) ? NULL : kke_cstr_arg(RARRAY_AREF(row, 2), "config value");
    }
    query_call_t q = {.op = Q_ALTER_CONFIGS,
                      .type = (int)kke_int_in_range(type, 0, 127, "resource type"),
                      .name = kke_cstr_arg(name, "name"),
                      .alts = alts,
                      .alt_count = (size_t)n,
                      .flag = RTEST(validate_only)};
    kke_client_t *c = get_client(self);
    kke_enter(&c->head);
    q.client = c->head.client;
    int rc = kke_run(&c->head, query_nogvl, &q, &q.rc);
    ALLOCV_END(buf);
    RB_GC_GUARD(list);
    RB_GC_GUARD(name);
    kke_log_flush(&c->head.log);
    if (rc != KK_OK)
        kke_raise(q.err.code ? q.err.code : rc, q.err.message);
    return Qnil;
}

static VALUE client_close(VALUE self) {
    kke_close(&get_client(self)->head);
    return Qnil;
}

static VALUE client_closed_p(VALUE self) {
    kke_client_t *c = get_client(self);
    return c->head.closed || c->head.close_pending || !c->head.client ? Qtrue : Qfalse;
}

void kke_init_client(void) {
    VALUE c = rb_define_class_under(kke_mKafkette, "Client", rb_cObject);
    rb_define_alloc_func(c, client_alloc);
    rb_define_private_method(c, "_setup", client_setup, 3);
    rb_define_private_method(c, "_create_topic", client_create_topic, 5);
    rb_define_private_method(c, "_delete_topic", client_delete_topic, 2);
    rb_define_private_method(c, "_delete_records", client_delete_records, 4);
    rb_define_private_method(c, "_partition_counts", client_partition_counts, 1);
    rb_define_private_method(c, "_list_topics", client_list_topics, 1);
    rb_define_private_method(c, "_describe_topics", client_describe_topics, 1);
    rb_define_private_method(c, "_create_partitions", client_create_partitions, 3);
    rb_define_private_method(c, "_watermarks", client_watermarks, 2);
    rb_define_private_method(c, "_offset_for_time", client_offset_for_time, 3);
    rb_define_private_method(c, "_list_groups", client_list_groups, 0);
    rb_define_private_method(c, "_describe_group", client_describe_group, 1);
    rb_define_private_method(c, "_group_lag", client_group_lag, 1);
    rb_define_private_method(c, "_describe_configs", client_describe_configs, 2);
    rb_define_private_method(c, "_alter_configs", client_alter_configs, 4);
    rb_define_method(c, "close", client_close, 0);
    rb_define_method(c, "closed?", client_closed_p, 0);
}
