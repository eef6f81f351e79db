/*
 * Kafkette::Client: a bare core client for topic administration and metadata (tests and tools
 * use it to create topics with a given number of partitions).
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
    rb_define_method(c, "close", client_close, 0);
    rb_define_method(c, "closed?", client_closed_p, 0);
}
