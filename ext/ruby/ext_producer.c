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
    VALUE partitioner; /* a Ruby callable, or nil */
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

static void producer_mark(void *ptr) {
    kke_producer_t *p = ptr;
    kke_head_mark(&p->head);
    rb_gc_mark(p->partitioner);
}

static size_t producer_memsize(const void *ptr) {
    const kke_producer_t *p = ptr;
    return sizeof(*p) + kke_head_memsize(&p->head);
}

static const rb_data_type_t producer_type = {
    .wrap_struct_name = "Kafkette::Producer",
    .function = {.dmark = producer_mark, .dfree = producer_free, .dsize = producer_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE producer_alloc(VALUE klass) {
    kke_producer_t *p;
    VALUE self = TypedData_Make_Struct(klass, kke_producer_t, &producer_type, p);
    p->partitioner = Qnil;
    kke_head_init(&p->head, producer_release, "Kafkette::Errors::ProducerShutdownError", "producer");
    return self;
}

static kke_producer_t *get_producer(VALUE self) {
    kke_producer_t *p;
    TypedData_Get_Struct(self, kke_producer_t, &producer_type, p);
    return p;
}

/* ---- a Ruby partitioner, called by the core during the send ---------------------------------- */

typedef struct partition_args {
    kke_producer_t *p;
    const void *key;
    size_t key_len;
    int32_t count;
} partition_args_t;

static VALUE call_partitioner(VALUE arg) {
    const partition_args_t *a = (const partition_args_t *)arg;
    VALUE key = rb_str_new(a->key, (long)a->key_len);
    return rb_funcall(a->p->partitioner, kke_id_call, 2, key, INT2NUM(a->count));
}

/* Anything but an Integer in [0, count) fails the message (KK_ERR_INVALID_PARTITION). */
static int32_t partitioner_cb(void *opaque, const void *key, size_t key_len, int32_t count) {
    partition_args_t a = {opaque, key, key_len, count};
    VALUE chosen = kke_callback(&a.p->head, call_partitioner, (VALUE)&a);
    return FIXNUM_P(chosen) && FIX2LONG(chosen) >= 0 && FIX2LONG(chosen) < count ? (int32_t)FIX2LONG(chosen) : -1;
}

/* _setup(brokers, client_id, options) */
static VALUE producer_setup(VALUE self, VALUE brokers, VALUE client_id, VALUE opts) {
    kke_producer_t *p = get_producer(self);
    kk_config_t *cfg;
    VALUE callbacks = rb_hash_new();
    VALUE holder = kke_config_setup(&p->head, KK_CONFIG_PRODUCER, brokers, client_id, opts, callbacks, &cfg);
    kk_producer_config_t *pc = kk_config_producer(cfg);
    VALUE partitioner = rb_hash_lookup2(callbacks, rb_str_new_cstr("partitioner"), Qnil);
    if (!NIL_P(partitioner)) {
        pc->partitioner = KK_PARTITIONER_CALLBACK;
        pc->partitioner_cb = partitioner_cb;
        pc->partitioner_opaque = p;
    }
    kk_error_t err;
    p->producer = kk_producer_new(pc, &err); /* copies what it keeps; never waits */
    kke_config_done(holder);
    if (!p->producer)
        kke_raise(err.code, err.message);
    p->head.client = kk_producer_client(p->producer);
    p->partitioner = partitioner;
    return self;
}

/* ---- send ------------------------------------------------------------------------------------ */

/* Walks the messages twice with the same reads: once to check them and size the buffer (this
 * pass may raise), once to copy them into it (it must not). Nothing in between runs Ruby code,
 * so no other thread can change them. */
typedef struct build {
    bool fill;
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

/* _send(messages): true, or raises with the failed messages attached. */
static VALUE producer_send(VALUE self, VALUE messages) {
    kke_producer_t *p = get_producer(self);
    Check_Type(messages, T_ARRAY);
    VALUE list = rb_ary_dup(messages); /* our own snapshot of the list */
    long n = RARRAY_LEN(list);
    if (n == 0)
        return Qnil;

    build_t b = {.fill = false, .last_topic = Qundef};
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
    if (state || (closed && code == KK_ERR_INTERRUPTED))
        p->head.callback_error = Qnil;
    if (state)
        rb_jump_tag(state); /* the interrupt's exception; nothing ran Ruby since it was caught */
    if (closed && code == KK_ERR_INTERRUPTED)
        rb_raise(rb_path2class(p->head.closed_class), "the producer was closed during the send");

    kke_log_flush(&p->head.log);
    kke_raise_callback_error(&p->head); /* what the partitioner raised; the results are stored */
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

static VALUE producer_close(VALUE self) {
    kke_close(&get_producer(self)->head);
    return Qnil;
}

static void producer_fill_stats(kke_head_t *h, kk_stats_t *out) { kk_producer_stats(((kke_producer_t *)h)->producer, out); }

/* stats -> the Hash of docs/STATISTICS.md */
static VALUE producer_stats(VALUE self) { return kke_stats(&get_producer(self)->head, producer_fill_stats); }

static VALUE producer_closed_p(VALUE self) {
    kke_producer_t *p = get_producer(self);
    return p->head.closed || p->head.close_pending || !p->producer ? Qtrue : Qfalse;
}

void kke_init_producer(void) {
    VALUE c = rb_define_class_under(kke_mKafkette, "Producer", rb_cObject);
    rb_define_alloc_func(c, producer_alloc);
    rb_define_private_method(c, "_setup", producer_setup, 3);
    rb_define_private_method(c, "_send", producer_send, 1);
    rb_define_method(c, "close", producer_close, 0);
    rb_define_method(c, "closed?", producer_closed_p, 0);
    rb_define_method(c, "stats", producer_stats, 0);
}
