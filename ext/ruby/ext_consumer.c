/*
 * Kafkette::PartitionConsumer's native half: configuration, fetch (without the GVL) and the
 * conversion of a fetched batch into FetchedMessage objects.
 */
#include "kafkette_ext.h"

#include <stdio.h>
#include <string.h>

typedef struct kke_consumer {
    kke_head_t head; /* first: the shared helpers see a kke_head_t */
    kk_consumer_t *consumer;
    VALUE topic;     /* frozen String shared by every FetchedMessage */
    int32_t partition;
} kke_consumer_t;

static void consumer_release(kke_head_t *h) {
    kke_consumer_t *c = (kke_consumer_t *)h;
    kk_consumer_free(c->consumer);
    c->consumer = NULL;
}

static void consumer_mark(void *ptr) {
    kke_consumer_t *c = ptr;
    rb_gc_mark(c->topic);
    kke_head_mark(&c->head);
}

static void consumer_free(void *ptr) {
    kke_consumer_t *c = ptr;
    kk_consumer_free(c->consumer); /* closes sockets; never waits */
    kke_log_free(&c->head.log);
    xfree(c);
}

static size_t consumer_memsize(const void *ptr) {
    const kke_consumer_t *c = ptr;
    return sizeof(*c) + kke_head_memsize(&c->head);
}

static const rb_data_type_t consumer_type = {
    .wrap_struct_name = "Kafkette::PartitionConsumer",
    .function = {.dmark = consumer_mark, .dfree = consumer_free, .dsize = consumer_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE consumer_alloc(VALUE klass) {
    kke_consumer_t *c;
    VALUE self = TypedData_Make_Struct(klass, kke_consumer_t, &consumer_type, c);
    c->topic = Qnil;
    kke_head_init(&c->head, consumer_release, "Kafkette::Errors::ConsumerClosedError", "consumer");
    return self;
}

static kke_consumer_t *get_consumer(VALUE self) {
    kke_consumer_t *c;
    TypedData_Get_Struct(self, kke_consumer_t, &consumer_type, c);
    return c;
}

/* _setup(brokers, client_id, topic, partition, offset_kind, offset_value, options) */
static VALUE consumer_setup(VALUE self, VALUE brokers, VALUE client_id, VALUE topic, VALUE partition,
                            VALUE offset_kind, VALUE offset_value, VALUE opts) {
    kke_consumer_t *c = get_consumer(self);
    kk_config_t *cfg;
    VALUE holder = kke_config_setup(&c->head, KK_CONFIG_CONSUMER, brokers, client_id, opts, Qnil, &cfg);
    kk_consumer_config_t *cc = kk_config_consumer(cfg);
    cc->topic = kke_cstr_arg(topic, "topic");
    cc->partition = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition");
    cc->offset.kind = (kk_offset_kind_t)kke_int_in_range(offset_kind, KK_OFFSET_AT, KK_OFFSET_AT_TIME, "offset kind");
    cc->offset.value = (int64_t)kke_int_in_range(offset_value, 0, INT64_MAX, "offset");
    kk_error_t err;
    c->consumer = kk_consumer_new(cc, &err); /* copies what it keeps; never waits */
    int32_t part = cc->partition;
    kke_config_done(holder);
    RB_GC_GUARD(topic);
    if (!c->consumer)
        kke_raise(err.code, err.message);
    c->head.client = kk_consumer_client(c->consumer);
    c->topic = rb_str_new_frozen(topic);
    c->partition = part;
    return self;
}

/* ---- fetch ----------------------------------------------------------------------------------- */

typedef struct fetch_call {
    kk_consumer_t *consumer;
    kk_fetch_options_t options;
    kk_fetch_batch_t *batch;
    int rc;
    kk_error_t err;
} fetch_call_t;

static void *fetch_nogvl(void *arg) {
    fetch_call_t *call = arg;
    call->rc = kk_consumer_fetch(call->consumer, &call->options, &call->batch, &call->err);
    return NULL;
}

typedef struct convert {
    const kk_fetch_batch_t *batch;
    VALUE topic;
    int32_t partition;
} convert_t;

static VALUE convert_batch(VALUE arg) {
    const convert_t *cv = (const convert_t *)arg;
    return kke_fetched_list(cv->batch, cv->topic, cv->partition);
}

/* Per-call max_bytes, min_bytes, max_wait_ms, checked by a consumer config. */
static kk_fetch_options_t fetch_options(VALUE opts) {
    kk_fetch_options_t o = KK_FETCH_OPTIONS_DEFAULT;
    if (NIL_P(opts) || (RB_TYPE_P(opts, T_HASH) && RHASH_SIZE(opts) == 0))
        return o;
    kk_config_t *cfg;
    VALUE holder = kke_config_new(KK_CONFIG_CONSUMER, &cfg);
    kke_config_apply(cfg, opts, Qnil);
    const kk_consumer_config_t *cc = kk_config_consumer(cfg);
    if (kk_config_is_set(cfg, "max_bytes"))
        o.max_bytes = cc->max_bytes;
    if (kk_config_is_set(cfg, "min_bytes"))
        o.min_bytes = cc->min_bytes;
    if (kk_config_is_set(cfg, "max_wait_ms"))
        o.max_wait_ms = cc->max_wait_ms;
    for (size_t i = 0; i < kk_option_count(); i++) {
        const char *name = kk_option_at(i)->name;
        if (strcmp(name, "max_bytes") && strcmp(name, "min_bytes") && strcmp(name, "max_wait_ms") &&
            kk_config_is_set(cfg, name)) {
            char message[160];
            snprintf(message, sizeof(message), "fetch takes max_bytes, min_bytes and max_wait_ms; '%s' is an option of the consumer", name);
            kke_raise(KK_ERR_INVALID_ARG, message);
        }
    }
    kke_config_done(holder);
    return o;
}

/* _fetch(options) -> Array of FetchedMessage */
static VALUE consumer_fetch(VALUE self, VALUE opts) {
    kke_consumer_t *c = get_consumer(self);
    fetch_call_t call;
    memset(&call, 0, sizeof(call));
    call.options = fetch_options(opts);
    kke_enter(&c->head);
    call.consumer = c->consumer;
    int rc = kke_run(&c->head, fetch_nogvl, &call, &call.rc);
    if (rc != KK_OK) {
        /* A partition the topic does not have: what a broker says, and what Poseidon raised. */
        int code = rc == KK_ERR_INVALID_PARTITION ? 3 : call.err.code ? call.err.code : rc;
        kke_log_flush(&c->head.log);
        kke_raise_callback_error(&c->head); /* a token provider's */
        kke_raise(code, call.err.message);
    }
    convert_t cv = {call.batch, c->topic, c->partition};
    int state = 0;
    VALUE list = rb_protect(convert_batch, (VALUE)&cv, &state);
    kk_fetch_batch_free(call.batch);
    if (state)
        rb_jump_tag(state);
    RB_GC_GUARD(list);
    kke_log_flush(&c->head.log);
    return list;
}

/* ---- offsets --------------------------------------------------------------------------------- */

typedef struct connect_call {
    kk_consumer_t *consumer;
    int rc;
    kk_error_t err;
} connect_call_t;

static void *connect_nogvl(void *arg) {
    connect_call_t *call = arg;
    call->rc = kk_consumer_connect(call->consumer, &call->err);
    return NULL;
}

/* Finds the leader and resolves the starting offset (what the first fetch would do). */
static VALUE consumer_connect(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    kke_enter(&c->head);
    connect_call_t call = {c->consumer, 0, {0, ""}};
    int rc = kke_run(&c->head, connect_nogvl, &call, &call.rc);
    kke_log_flush(&c->head.log);
    if (rc != KK_OK)
        kke_raise_callback_error(&c->head); /* a token provider's */
    if (rc != KK_OK)
        kke_raise(rc == KK_ERR_INVALID_PARTITION ? 3 : call.err.code ? call.err.code : rc, call.err.message);
    return self;
}

static VALUE offset_or_nil(int64_t v) { return v >= 0 ? LL2NUM(v) : Qnil; }

/* The offset the next fetch starts at; resolves a symbolic start offset first if needed. */
static VALUE consumer_next_offset(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    if (!c->consumer)
        rb_raise(rb_path2class(c->head.closed_class), "the consumer is closed");
    if (kk_consumer_next_offset(c->consumer) < 0)
        consumer_connect(self);
    return c->consumer ? offset_or_nil(kk_consumer_next_offset(c->consumer)) : Qnil;
}

static VALUE consumer_highwater_mark(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    return c->consumer ? offset_or_nil(kk_consumer_highwater_mark(c->consumer)) : Qnil;
}

static VALUE consumer_last_stable_offset(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    return c->consumer ? offset_or_nil(kk_consumer_last_stable_offset(c->consumer)) : Qnil;
}

static VALUE consumer_log_start_offset(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    return c->consumer ? offset_or_nil(kk_consumer_log_start_offset(c->consumer)) : Qnil;
}

/* "host:port" of the seed the consumer's client is bootstrapped to, or nil. */
static VALUE consumer_bootstrap_broker(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    const char *broker = c->consumer && !c->head.busy ? kk_client_bootstrap_broker(c->head.client) : NULL;
    return broker ? rb_str_new_cstr(broker) : Qnil;
}

static VALUE consumer_close(VALUE self) {
    kke_close(&get_consumer(self)->head);
    return Qnil;
}

static void consumer_fill_stats(kke_head_t *h, kk_stats_t *out) { kk_consumer_stats(((kke_consumer_t *)h)->consumer, out); }

/* stats -> the Hash of docs/STATISTICS.md */
static VALUE consumer_stats(VALUE self) { return kke_stats(&get_consumer(self)->head, consumer_fill_stats); }

static VALUE consumer_closed_p(VALUE self) {
    kke_consumer_t *c = get_consumer(self);
    return c->head.closed || c->head.close_pending || !c->consumer ? Qtrue : Qfalse;
}

void kke_init_consumer(void) {
    VALUE c = rb_define_class_under(kke_mKafkette, "PartitionConsumer", rb_cObject);
    rb_define_alloc_func(c, consumer_alloc);
    rb_define_private_method(c, "_setup", consumer_setup, 7);
    rb_define_private_method(c, "_fetch", consumer_fetch, 1);
    rb_define_private_method(c, "_bootstrap_broker", consumer_bootstrap_broker, 0);
    rb_define_method(c, "connect", consumer_connect, 0);
    rb_define_method(c, "next_offset", consumer_next_offset, 0);
    rb_define_method(c, "highwater_mark", consumer_highwater_mark, 0);
    rb_define_method(c, "last_stable_offset", consumer_last_stable_offset, 0);
    rb_define_method(c, "log_start_offset", consumer_log_start_offset, 0);
    rb_define_method(c, "close", consumer_close, 0);
    rb_define_method(c, "closed?", consumer_closed_p, 0);
    rb_define_method(c, "stats", consumer_stats, 0);
}
