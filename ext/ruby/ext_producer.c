/*
 * Kafkette::Producer's native half: configuration, and send (MessageToSend objects copied into
 * one C buffer, sent without the GVL, results written back onto the messages).
 */
#include "kafkette_ext.h"

#include <stdio.h>
#include <string.h>

typedef struct kke_producer {
    kke_head_t head; /* first: the shared helpers see a kke_head_t */
    kk_producer_t *producer;
} kke_producer_t;

static void producer_release(kke_head_t *h) {
    kke_producer_t *p = (kke_producer_t *)h;
    kk_producer_free(p->producer);
    p->producer = NULL;
}

static void producer_free(void *ptr) {
    kke_producer_t *p = ptr;
    kk_producer_free(p->producer); /* closes sockets; never waits */
    kke_log_free(&p->head.log);
    xfree(p);
}

static size_t producer_memsize(const void *ptr) {
    const kke_producer_t *p = ptr;
    return sizeof(*p) + kke_head_memsize(&p->head);
}

/* The producer holds no Ruby objects, so there is nothing to mark. */
static const rb_data_type_t producer_type = {
    .wrap_struct_name = "Kafkette::Producer",
    .function = {.dmark = NULL, .dfree = producer_free, .dsize = producer_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE producer_alloc(VALUE klass) {
    kke_producer_t *p;
    VALUE self = TypedData_Make_Struct(klass, kke_producer_t, &producer_type, p);
    p->head.release = producer_release;
    p->head.closed_class = "Kafkette::Errors::ProducerShutdownError";
    p->head.what = "producer";
    return self;
}

static kke_producer_t *get_producer(VALUE self) {
    kke_producer_t *p;
    TypedData_Get_Struct(self, kke_producer_t, &producer_type, p);
    return p;
}

/* _setup(bootstrap, client_id, options): options are already checked and renamed by the Ruby
 * side; the checks here only keep a direct caller from passing nonsense to the core. */
static VALUE producer_setup(VALUE self, VALUE bootstrap, VALUE client_id, VALUE opts) {
    kke_producer_t *p = get_producer(self);
    if (p->producer || p->head.closed)
        rb_raise(rb_eRuntimeError, "the producer is already set up");
    if (!NIL_P(opts))
        Check_Type(opts, T_HASH);

    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kke_cstr_arg(bootstrap, "brokers");
    cfg.client.client_id = NIL_P(client_id) ? NULL : kke_cstr_arg(client_id, "client_id");
    cfg.client.connect_timeout_ms = (int)kke_opt_int(opts, "connect_timeout_ms", cfg.client.connect_timeout_ms, 1, INT32_MAX);
    cfg.client.request_timeout_ms = (int)kke_opt_int(opts, "request_timeout_ms", cfg.client.request_timeout_ms, 1, INT32_MAX);
    cfg.client.max_response_bytes = (int32_t)kke_opt_int(opts, "max_response_bytes", cfg.client.max_response_bytes, 1, INT32_MAX);
    cfg.client.allow_auto_topic_creation = kke_opt_bool(opts, "allow_auto_topic_creation", cfg.client.allow_auto_topic_creation);
    kke_opt_api_versions(opts, &cfg.client);
    cfg.required_acks = (int16_t)kke_opt_int(opts, "required_acks", cfg.required_acks, -1, 1);
    cfg.ack_timeout_ms = (int32_t)kke_opt_int(opts, "ack_timeout_ms", cfg.ack_timeout_ms, 0, INT32_MAX);
    cfg.max_send_retries = (int)kke_opt_int(opts, "max_send_retries", cfg.max_send_retries, 0, INT32_MAX);
    cfg.retry_backoff_ms = (int)kke_opt_int(opts, "retry_backoff_ms", cfg.retry_backoff_ms, 0, INT32_MAX);
    cfg.metadata_refresh_interval_ms =
        (int)kke_opt_int(opts, "metadata_refresh_interval_ms", cfg.metadata_refresh_interval_ms, 0, INT32_MAX);
    cfg.compression = (kk_codec_t)kke_opt_int(opts, "compression", cfg.compression, KK_CODEC_NONE, KK_CODEC_ZSTD);
    cfg.partitioner = (kk_partitioner_kind_t)kke_opt_int(opts, "partitioner", cfg.partitioner,
                                                         KK_PARTITIONER_MURMUR2, KK_PARTITIONER_CRC32);
    cfg.max_request_bytes = (int32_t)kke_opt_int(opts, "max_request_bytes", cfg.max_request_bytes, 1024, INT32_MAX);
    cfg.topic_wait_ms = (int)kke_opt_int(opts, "topic_wait_ms", cfg.topic_wait_ms, 0, INT32_MAX);

    VALUE topics = NIL_P(opts) ? Qnil : rb_hash_lookup2(opts, ID2SYM(rb_intern("compressed_topics")), Qnil);
    VALUE topics_buf = 0;
    if (!NIL_P(topics)) {
        Check_Type(topics, T_ARRAY);
        long n = RARRAY_LEN(topics);
        /* GC-owned scratch: a TypeError below cannot leak it */
        const char **names = ALLOCV_N(const char *, topics_buf, n > 0 ? n : 1);
        for (long i = 0; i < n; i++)
            names[i] = kke_cstr_arg(RARRAY_AREF(topics, i), "compressed_topics entry");
        cfg.compressed_topics = names;
        cfg.compressed_topic_count = (size_t)n;
    }
    cfg.client.log_cb = kke_log_cb;
    cfg.client.log_opaque = &p->head.log;

    kk_error_t err;
    p->producer = kk_producer_new(&cfg, &err); /* copies what it keeps; never waits */
    if (topics_buf)
        ALLOCV_END(topics_buf);
    RB_GC_GUARD(topics);
    RB_GC_GUARD(bootstrap);
    RB_GC_GUARD(client_id);
    if (!p->producer)
        kke_raise(err.code, err.message);
    p->head.client = kk_producer_client(p->producer);
    return self;
}

/* ---- send ------------------------------------------------------------------------------------ */

/* Walks the messages twice with the same reads: once to check them and size the buffer (this
 * pass may raise), once to copy them into it (it must not). Nothing in between runs Ruby code,
 * so no other thread can change them. */
typedef struct build {
    bool fill;
    VALUE partitions; /* Array of Integer/nil from a Ruby partitioner, or nil */
    kk_message_t *msgs;
    kk_header_t *headers;
    char *bytes;
    size_t byte_len;   /* bytes used (fill) or needed (sizing) */
    size_t header_len; /* headers used or needed */
    VALUE last_topic;
    const char *last_topic_ptr;
} build_t;

static const char *copy_bytes(build_t *b, VALUE str) {
    size_t n = (size_t)RSTRING_LEN(str);
    char *at = b->fill ? b->bytes + b->byte_len : NULL;
    if (b->fill && n)
        memcpy(at, RSTRING_PTR(str), n);
    b->byte_len += n;
    return at;
}

static int header_entry(VALUE key, VALUE value, VALUE arg) {
    build_t *b = (build_t *)arg;
    if (!b->fill) {
        if (!RB_TYPE_P(key, T_STRING))
            rb_raise(rb_eTypeError, "header names must be Strings, not %s", rb_obj_classname(key));
        if (!NIL_P(value) && !RB_TYPE_P(value, T_STRING))
            rb_raise(rb_eTypeError, "header values must be Strings or nil, not %s", rb_obj_classname(value));
    }
    kk_header_t h = {0};
    h.key = copy_bytes(b, key);
    h.key_len = (size_t)RSTRING_LEN(key);
    if (!NIL_P(value)) {
        h.value = copy_bytes(b, value);
        h.value_len = (size_t)RSTRING_LEN(value);
        if (b->fill && !h.value)
            h.value = ""; /* empty, not null */
    }
    if (b->fill) {
        if (!h.key)
            h.key = "";
        b->headers[b->header_len] = h;
    }
    b->header_len++;
    return ST_CONTINUE;
}

static void build_message(build_t *b, VALUE obj, long i) {
    const kke_outmsg_t *m = kke_outmsg_get(obj);
    if (!m)
        rb_raise(rb_eTypeError, "messages must be Kafkette::MessageToSend objects, not %s", rb_obj_classname(obj));
    /* The constructor checked the types; the strings may have changed since, the hash too. */
    VALUE topic = m->topic, value = m->value, key = m->key, headers = m->headers;
    int32_t partition = m->partition;
    if (!NIL_P(b->partitions)) {
        VALUE chosen = rb_ary_entry(b->partitions, i);
        if (!b->fill && !NIL_P(chosen))
            kke_int_in_range(chosen, 0, INT32_MAX, "partition");
        if (!NIL_P(chosen))
            partition = (int32_t)FIX2LONG(chosen);
    }
    if (!b->fill) {
        if (!RB_TYPE_P(topic, T_STRING))
            rb_raise(rb_eArgError, "message %ld has no topic (was it initialized?)", i);
        if (memchr(RSTRING_PTR(topic), 0, (size_t)RSTRING_LEN(topic)))
            rb_raise(rb_eArgError, "message %ld: topic must not contain NUL bytes", i);
    }
    kk_message_t msg = {0};
    /* consecutive messages usually share their topic: store it once */
    if (topic == b->last_topic ||
        (b->last_topic != Qundef && RSTRING_LEN(topic) == RSTRING_LEN(b->last_topic) &&
         memcmp(RSTRING_PTR(topic), RSTRING_PTR(b->last_topic), (size_t)RSTRING_LEN(topic)) == 0)) {
        msg.topic = b->last_topic_ptr;
    } else {
        msg.topic = copy_bytes(b, topic);
        if (b->fill)
            b->bytes[b->byte_len] = '\0';
        b->byte_len++;
        b->last_topic = topic;
        b->last_topic_ptr = msg.topic;
    }
    if (!NIL_P(key)) {
        msg.key_len = (size_t)RSTRING_LEN(key);
        msg.key = copy_bytes(b, key);
        if (b->fill && !msg.key)
            msg.key = ""; /* an empty key is not a missing key */
    }
    if (!NIL_P(value)) {
        msg.value_len = (size_t)RSTRING_LEN(value);
        msg.value = copy_bytes(b, value);
        if (b->fill && !msg.value)
            msg.value = "";
    }
    size_t first_header = b->header_len;
    if (!NIL_P(headers) && RHASH_SIZE(headers) > 0) {
        rb_hash_foreach(headers, header_entry, (VALUE)b);
        msg.header_count = b->header_len - first_header;
        msg.headers = b->fill ? b->headers + first_header : NULL;
    }
    msg.partition = partition;
    msg.timestamp_ms = m->timestamp >= 0 ? m->timestamp : 0;
    if (b->fill)
        b->msgs[i] = msg;
}

typedef struct send_call {
    kk_producer_t *producer;
    kk_message_t *msgs;
    size_t count;
    int rc;
    kk_error_t err;
} send_call_t;

static void *send_nogvl(void *arg) {
    send_call_t *call = arg;
    call->rc = kk_producer_send(call->producer, call->msgs, call->count, &call->err);
    return NULL;
}

/* Records partition, offset and error code in every message (plain C stores: cannot raise). */
static void store_results(VALUE list, const kk_message_t *msgs, long n) {
    for (long i = 0; i < n; i++) {
        kke_outmsg_t *m = kke_outmsg_get(RARRAY_AREF(list, i));
        m->result_partition = msgs[i].result_partition;
        m->offset = msgs[i].offset;
        m->error = msgs[i].error;
    }
}

/* _send(messages, partitions): true, or raises with the failed messages attached. */
static VALUE producer_send(VALUE self, VALUE messages, VALUE partitions) {
    kke_producer_t *p = get_producer(self);
    Check_Type(messages, T_ARRAY);
    if (!NIL_P(partitions))
        Check_Type(partitions, T_ARRAY);
    VALUE list = rb_ary_dup(messages); /* our own snapshot of the list */
    long n = RARRAY_LEN(list);
    if (n == 0)
        return Qnil;

    build_t b = {.fill = false, .partitions = partitions, .last_topic = Qundef};
    for (long i = 0; i < n; i++)
        build_message(&b, RARRAY_AREF(list, i), i);

    kke_enter(&p->head); /* from here on nothing may raise until kke_leave */
    /* GC-owned buffers (ALLOCV): whatever raises later, they cannot leak. */
    VALUE msgs_buf = 0, headers_buf = 0, bytes_buf = 0, retry_buf = 0, index_buf = 0;
    b.msgs = ALLOCV_N(kk_message_t, msgs_buf, n);
    b.headers = ALLOCV_N(kk_header_t, headers_buf, b.header_len ? b.header_len : 1);
    b.bytes = ALLOCV(bytes_buf, b.byte_len ? b.byte_len : 1);
    b.fill = true;
    b.byte_len = b.header_len = 0;
    b.last_topic = Qundef;
    for (long i = 0; i < n; i++)
        build_message(&b, RARRAY_AREF(list, i), i);

    send_call_t call;
    memset(&call, 0, sizeof(call));
    call.producer = p->producer;
    kk_message_t *work = b.msgs;
    size_t work_n = (size_t)n;
    long *index = NULL; /* work[j] is b.msgs[index[j]] once only a subset is resent */
    int retries = 0, state = 0;
    for (;;) {
        call.msgs = work;
        call.count = work_n;
        call.rc = KK_ERR_INTERRUPTED;
        if (!kke_blocking(p->head.client, send_nogvl, &call)) {
            for (size_t j = 0; j < work_n; j++) {
                work[j].error = KK_ERR_INTERRUPTED;
                work[j].result_partition = -1;
                work[j].offset = -1;
            }
            snprintf(call.err.message, sizeof(call.err.message), "send interrupted");
        }
        if (index)
            for (size_t j = 0; j < work_n; j++) {
                kk_message_t *dst = &b.msgs[index[j]];
                dst->result_partition = work[j].result_partition;
                dst->offset = work[j].offset;
                dst->error = work[j].error;
            }
        size_t interrupted = 0;
        for (long i = 0; i < n; i++)
            interrupted += b.msgs[i].error == KK_ERR_INTERRUPTED;
        if (interrupted == 0 || p->head.close_pending)
            break;
        state = kke_check_interrupt();
        if (state)
            break;
        /* Ruby let the interrupt pass (a trap handler ran, ...): resend what it stopped. */
        if (!index) {
            index = ALLOCV_N(long, index_buf, n);
            work = ALLOCV_N(kk_message_t, retry_buf, n);
        }
        work_n = 0;
        for (long i = 0; i < n; i++)
            if (b.msgs[i].error == KK_ERR_INTERRUPTED) {
                index[work_n] = i;
                work[work_n++] = b.msgs[i];
            }
        retries++;
    }
    store_results(list, b.msgs, n);
    bool closed = kke_leave(&p->head);

    size_t failed = 0;
    long first_failed = -1;
    for (long i = 0; i < n; i++)
        if (b.msgs[i].error) {
            failed++;
            if (first_failed < 0)
                first_failed = i;
        }
    int code = failed ? b.msgs[first_failed].error : KK_OK;
    char message[KK_ERROR_MESSAGE_SIZE];
    if (failed && retries == 0)
        snprintf(message, sizeof(message), "%s", call.err.message);
    else if (failed)
        snprintf(message, sizeof(message), "%zu of %ld messages not delivered; first: message %ld: %s (%s)", failed,
                 n, first_failed, kk_err_name(code), kk_err_description(code));
    if (msgs_buf)
        ALLOCV_END(msgs_buf);
    if (headers_buf)
        ALLOCV_END(headers_buf);
    if (bytes_buf)
        ALLOCV_END(bytes_buf);
    if (retry_buf)
        ALLOCV_END(retry_buf);
    if (index_buf)
        ALLOCV_END(index_buf);
    if (state)
        rb_jump_tag(state); /* the interrupt's exception; nothing ran Ruby since it was caught */
    if (closed && code == KK_ERR_INTERRUPTED)
        rb_raise(rb_path2class(p->head.closed_class), "the producer was closed during the send");

    kke_log_flush(&p->head.log);
    if (failed == 0)
        return Qtrue;
    VALUE failed_list = rb_ary_new_capa((long)failed);
    for (long i = 0; i < n; i++)
        if (b.msgs[i].error)
            rb_ary_push(failed_list, RARRAY_AREF(list, i));
    RB_GC_GUARD(list);
    VALUE exc = kke_error_new(code, message);
    rb_ivar_set(exc, kke_id_failed_messages, failed_list);
    rb_exc_raise(exc);
    return Qnil; /* not reached */
}

/* ---- metadata for a Ruby partitioner ------------------------------------------------------- */

typedef struct counts_call {
    kk_client_t *client;
    const char **topics;
    size_t count;
    kk_metadata_t *md;
    int rc;
    kk_error_t err;
} counts_call_t;

static void *counts_nogvl(void *arg) {
    counts_call_t *call = arg;
    call->rc = kk_client_metadata(call->client, call->topics, call->count, &call->md, &call->err);
    return NULL;
}

/* { topic => [error_code, partition_count] } for the given topics, straight from a Metadata
 * request (a Ruby partitioner needs the partition counts with the GVL held). */
VALUE kke_partition_counts(kke_head_t *h, VALUE topics) {
    Check_Type(topics, T_ARRAY);
    VALUE list = rb_ary_dup(topics);
    long n = RARRAY_LEN(list);
    VALUE names_buf = 0;
    const char **names = ALLOCV_N(const char *, names_buf, n > 0 ? n : 1);
    for (long i = 0; i < n; i++)
        names[i] = kke_cstr_arg(RARRAY_AREF(list, i), "topic");
    kke_enter(h);
    counts_call_t call = {h->client, names, (size_t)n, NULL, 0, {0, ""}};
    int rc = kke_run(h, counts_nogvl, &call, &call.rc);
    if (rc != KK_OK) {
        ALLOCV_END(names_buf);
        kke_log_flush(&h->log);
        kke_raise(call.err.code ? call.err.code : rc, call.err.message);
    }
    /* copy the snapshot into plain numbers, free it, then build Ruby objects */
    VALUE result = rb_hash_new();
    for (long i = 0; i < n; i++) {
        const kk_topic_info_t *t = kk_metadata_topic(call.md, names[i]);
        int code = t ? t->error_code : 3;
        long parts = t ? (long)t->partition_count : 0;
        rb_hash_aset(result, RARRAY_AREF(list, i), rb_assoc_new(INT2FIX(code), LONG2FIX(parts)));
    }
    kk_metadata_free(call.md);
    ALLOCV_END(names_buf);
    RB_GC_GUARD(list);
    kke_log_flush(&h->log);
    return result;
}

static VALUE producer_partition_counts(VALUE self, VALUE topics) {
    return kke_partition_counts(&get_producer(self)->head, topics);
}

static VALUE producer_close(VALUE self) {
    kke_close(&get_producer(self)->head);
    return Qnil;
}

static VALUE producer_closed_p(VALUE self) {
    kke_producer_t *p = get_producer(self);
    return p->head.closed || p->head.close_pending || !p->producer ? Qtrue : Qfalse;
}

void kke_init_producer(void) {
    VALUE c = rb_define_class_under(kke_mKafkette, "Producer", rb_cObject);
    rb_define_alloc_func(c, producer_alloc);
    rb_define_private_method(c, "_setup", producer_setup, 3);
    rb_define_private_method(c, "_send", producer_send, 2);
    rb_define_private_method(c, "_partition_counts", producer_partition_counts, 1);
    rb_define_method(c, "close", producer_close, 0);
    rb_define_method(c, "closed?", producer_closed_p, 0);
}
