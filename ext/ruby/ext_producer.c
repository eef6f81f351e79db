/*
 * Kafkette::Producer's native half: configuration, and send (MessageToSend objects copied into
 * one C buffer, sent without the GVL, results written back onto the messages).
 */
#include "kafkette_ext.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct kke_handle;

typedef struct kke_producer {
    kke_head_t head; /* first: the shared helpers see a kke_head_t */
    kk_producer_t *producer;
    VALUE partitioner; /* a Ruby callable, or nil */
    /* asynchronous produce (below): handles whose reports are not served yet */
    struct kke_handle *pending;
    size_t pending_count;
    pid_t pid;      /* the process the list belongs to */
    VALUE event_io; /* an IO on the event fd for the Fiber scheduler, or nil */
    /* type: :async, where send_messages queues through produce: the MessageToSend objects
     * reported undelivered (an Array, or nil) and how many were delivered, since the last
     * time they were taken to be raised (_take_send_failures) */
    bool send_async;
    VALUE send_failures;
    long send_delivered;
} kke_producer_t;

static void mark_pending(const kke_producer_t *p);
static void producer_leaving(kke_head_t *h);

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
    rb_gc_mark(p->event_io);
    rb_gc_mark(p->send_failures);
    mark_pending(p);
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
    p->event_io = Qnil;
    p->send_failures = Qnil;
    kke_head_init(&p->head, producer_release, "Kafkette::Errors::ProducerShutdownError", "producer");
    p->head.leaving = producer_leaving;
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
    p->send_async = pc->type && strcmp(pc->type, "async") == 0;
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

/* ---- asynchronous produce: DeliveryHandle, poll, flush, close -------------------------------
 * A produced message's opaque is its handle's C struct. The handle keeps topic, key and value
 * (frozen Strings the core points into: no copy) and the block alive; the producer marks every
 * handle whose report is not served yet (pinned: the core holds their addresses), so nothing
 * is collected or moved under the core. The core's release callback does nothing: it may run
 * without the GVL (poll) or in dfree (kk_producer_free), where Ruby must not be touched; the
 * handle lets go of its objects when its report is served, holding the GVL. */
typedef struct kke_handle {
    VALUE self, producer, topic, key, value, block;
    VALUE message; /* the MessageToSend an async send_messages queued, else nil */
    VALUE report; /* Kafkette::DeliveryReport once served, else nil */
    struct kke_handle *prev, *next; /* in the producer's list of unserved handles */
    bool linked;
} kke_handle_t;

static VALUE cDeliveryHandle, cDeliveryReport;

static void handle_mark(void *ptr) {
    kke_handle_t *hd = ptr;
    rb_gc_mark(hd->producer);
    rb_gc_mark(hd->topic);
    rb_gc_mark(hd->key); /* pinned: the core reads their bytes until the report */
    rb_gc_mark(hd->value);
    rb_gc_mark(hd->block);
    rb_gc_mark(hd->report);
    rb_gc_mark(hd->message);
}

static size_t handle_memsize(const void *ptr) {
    (void)ptr;
    return sizeof(kke_handle_t);
}

static const rb_data_type_t handle_type = {
    .wrap_struct_name = "Kafkette::DeliveryHandle",
    .function = {.dmark = handle_mark, .dfree = RUBY_TYPED_DEFAULT_FREE, .dsize = handle_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE handle_alloc(VALUE klass) {
    kke_handle_t *hd;
    VALUE self = TypedData_Make_Struct(klass, kke_handle_t, &handle_type, hd);
    hd->self = self;
    hd->producer = hd->topic = hd->key = hd->value = hd->block = hd->report = hd->message = Qnil;
    return self;
}

static kke_handle_t *get_handle(VALUE self) {
    kke_handle_t *hd;
    TypedData_Get_Struct(self, kke_handle_t, &handle_type, hd);
    return hd;
}

static VALUE handle_done_p(VALUE self) { return NIL_P(get_handle(self)->report) ? Qfalse : Qtrue; }
static VALUE handle_report(VALUE self) { return get_handle(self)->report; }
static VALUE handle_producer(VALUE self) { return get_handle(self)->producer; }
static VALUE handle_topic(VALUE self) { return get_handle(self)->topic; }

static void link_handle(kke_producer_t *p, kke_handle_t *hd) {
    hd->prev = NULL;
    hd->next = p->pending;
    if (p->pending)
        p->pending->prev = hd;
    p->pending = hd;
    hd->linked = true;
    p->pending_count++;
}

static void unlink_handle(kke_producer_t *p, kke_handle_t *hd) {
    if (!hd->linked)
        return;
    if (hd->prev)
        hd->prev->next = hd->next;
    else
        p->pending = hd->next;
    if (hd->next)
        hd->next->prev = hd->prev;
    hd->prev = hd->next = NULL;
    hd->linked = false;
    p->pending_count--;
}

static void release_noop(void *opaque, void *key, void *value) {
    (void)opaque;
    (void)key;
    (void)value;
}

/* The fate of a message async send_messages queued goes into the MessageToSend; a failure is
 * kept (and logged) for the next send_messages, poll, flush or close to raise. */
static void settle_message(kke_producer_t *p, kke_handle_t *hd, int32_t partition, int64_t offset, int error) {
    kke_outmsg_t *m = kke_outmsg_get(hd->message);
    m->result_partition = partition;
    m->offset = error ? -1 : offset;
    m->error = error;
    if (!error) {
        p->send_delivered++;
        return;
    }
    if (NIL_P(p->send_failures))
        p->send_failures = rb_ary_new();
    rb_ary_push(p->send_failures, hd->message);
    char line[KK_ERROR_MESSAGE_SIZE + 300];
    snprintf(line, sizeof(line), "send_messages (type async): not delivered to %.249s partition %d: %s (%s)",
             StringValueCStr(hd->topic), (int)partition, kk_err_name(error), kk_err_description(error));
    kke_log_cb(&p->head.log, KK_LOG_WARNING, line); /* emitted by the caller's kke_log_flush */
}

/* Settles a handle: its report, and its block queued in `served` (called later by the caller).
 * served nil: a message of the parent process's, settled in a child: nothing is kept. */
static void settle(kke_producer_t *p, kke_handle_t *hd, int32_t partition, int64_t offset, int64_t timestamp_ms,
                   int error, VALUE served) {
    /* hd stays on the pending list, which the producer marks, until its block and report are
     * in served: the objects made below can start a GC, and nothing else may hold the handle */
    VALUE err = Qnil;
    if (error) {
        char message[KK_ERROR_MESSAGE_SIZE];
        snprintf(message, sizeof(message), "message to %s not delivered: %s (%s)", StringValueCStr(hd->topic),
                 kk_err_name(error), kk_err_description(error));
        err = kke_error_new(error, message);
    }
    VALUE args[5] = {hd->topic, partition >= 0 ? INT2NUM(partition) : Qnil, offset >= 0 ? LL2NUM(offset) : Qnil,
                     timestamp_ms >= 0 ? LL2NUM(timestamp_ms) : Qnil, err};
    hd->report = rb_class_new_instance(5, args, cDeliveryReport);
    hd->key = hd->value = Qnil; /* the core is done with them */
    if (!NIL_P(hd->block) && !NIL_P(served))
        rb_ary_push(served, rb_assoc_new(hd->block, hd->report));
    if (!NIL_P(hd->message) && !NIL_P(served))
        settle_message(p, hd, partition, offset, error);
    hd->block = hd->message = Qnil;
    unlink_handle(p, hd);
}

/* After fork() the parent's messages never get a report here: settle them as not produced in
 * this process (no block is called for them), so the child starts with an empty list. */
static void check_fork(kke_producer_t *p) {
    pid_t pid = getpid();
    if (p->pid == pid)
        return;
    p->pid = pid;
    while (p->pending)
        settle(p, p->pending, -1, -1, -1, KK_ERR_STATE, Qnil);
    p->event_io = Qnil;
    p->send_failures = Qnil; /* the parent's to raise */
    p->send_delivered = 0;
}

typedef struct produce_call {
    kk_producer_t *producer;
    kk_produce_message_t msg;
    int rc;
    kk_error_t err;
} produce_call_t;

static void *produce_nogvl(void *arg) {
    produce_call_t *call = arg;
    call->rc = kk_producer_produce(call->producer, &call->msg, &call->err);
    return NULL;
}

typedef struct produce_run {
    kke_producer_t *p;
    produce_call_t *call;
} produce_run_t;

static VALUE produce_run(VALUE arg) {
    produce_run_t *r = (produce_run_t *)arg;
    kke_run(&r->p->head, produce_nogvl, r->call, &r->call->rc);
    return Qnil;
}

static const char *bytes_or_null(VALUE s, size_t *len) {
    if (NIL_P(s)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)RSTRING_LEN(s);
    return *len ? RSTRING_PTR(s) : "";
}

static int count_header(VALUE key, VALUE value, VALUE arg) {
    if (!RB_TYPE_P(key, T_STRING))
        rb_raise(rb_eTypeError, "header names must be Strings, not %s", rb_obj_classname(key));
    if (!NIL_P(value) && !RB_TYPE_P(value, T_STRING))
        rb_raise(rb_eTypeError, "header values must be Strings or nil, not %s", rb_obj_classname(value));
    rb_ary_push(arg, rb_str_new_frozen(key));
    rb_ary_push(arg, NIL_P(value) ? Qnil : rb_str_new_frozen(value));
    return ST_CONTINUE;
}

static VALUE string_or_nil(VALUE v, const char *what) {
    if (NIL_P(v))
        return Qnil;
    if (!RB_TYPE_P(v, T_STRING))
        rb_raise(rb_eTypeError, "%s must be a String or nil, not %s", what, rb_obj_classname(v));
    return rb_str_new_frozen(v);
}

/* _produce(topic, value, key, partition, headers, timestamp_ms, block, message) -> DeliveryHandle;
 * message: the MessageToSend an async send_messages queues (its fate is written into it), or nil */
static VALUE producer_produce(VALUE self, VALUE topic, VALUE value, VALUE key, VALUE partition, VALUE headers,
                              VALUE timestamp, VALUE block, VALUE message) {
    kke_producer_t *p = get_producer(self);
    kke_cstr_arg(topic, "topic");
    int32_t part = (int32_t)kke_int_in_range(partition, -1, INT32_MAX, "partition");
    int64_t ts = (int64_t)kke_int_in_range(timestamp, 0, INT64_MAX >> 1, "timestamp_ms");
    VALUE pairs = rb_ary_new();
    if (!NIL_P(headers)) {
        Check_Type(headers, T_HASH);
        rb_hash_foreach(headers, count_header, pairs);
    }
    VALUE handle = handle_alloc(cDeliveryHandle);
    kke_handle_t *hd = get_handle(handle);
    hd->producer = self;
    hd->topic = rb_str_new_frozen(topic);
    hd->value = string_or_nil(value, "value");
    hd->key = string_or_nil(key, "key");
    hd->block = block;
    kke_outmsg_t *sent = NIL_P(message) ? NULL : kke_outmsg_get(message);
    if (!NIL_P(message) && !sent)
        rb_raise(rb_eTypeError, "not a Kafkette::MessageToSend: %s", rb_obj_classname(message));
    hd->message = message;
    long nh = RARRAY_LEN(pairs) / 2;
    VALUE hbuf = 0;
    kk_header_t *hs = ALLOCV_N(kk_header_t, hbuf, nh ? nh : 1);
    for (long i = 0; i < nh; i++) {
        hs[i].key = bytes_or_null(RARRAY_AREF(pairs, 2 * i), &hs[i].key_len);
        hs[i].value = bytes_or_null(RARRAY_AREF(pairs, 2 * i + 1), &hs[i].value_len);
    }
    kke_enter(&p->head);
    check_fork(p);
    produce_call_t call;
    memset(&call, 0, sizeof(call));
    call.producer = p->producer;
    call.msg.topic = StringValueCStr(hd->topic);
    call.msg.partition = part;
    call.msg.key = bytes_or_null(hd->key, &call.msg.key_len);
    call.msg.value = bytes_or_null(hd->value, &call.msg.value_len);
    call.msg.headers = nh ? hs : NULL;
    call.msg.header_count = (size_t)nh;
    call.msg.timestamp_ms = ts;
    call.msg.opaque = hd;
    call.msg.release = release_noop;
    /* linked before the call: the producer marks it while the core may already hold it */
    link_handle(p, hd);
    if (sent) { /* no fate yet: not reported */
        sent->result_partition = -1;
        sent->offset = -1;
        sent->error = 0;
    }
    /* queued at once holding the GVL when nothing has to wait or call back */
    bool queued = false;
    int rc = kk_producer_try_produce(p->producer, &call.msg, &queued, &call.err);
    int state = 0;
    if (rc != KK_OK || queued) {
        kke_leave(&p->head);
    } else {
        call.rc = KK_ERR_INTERRUPTED;
        /* kke_run raises for an interrupt (Thread#raise during max_block_ms) or a close: the
         * message was not queued then, so no report will come for the handle */
        produce_run_t run = {p, &call};
        rb_protect(produce_run, (VALUE)&run, &state);
        rc = state ? KK_ERR_INTERRUPTED : call.rc;
    }
    if (rc != KK_OK)
        unlink_handle(p, hd); /* not queued: no report will come */
    if (state) {
        ALLOCV_END(hbuf);
        rb_jump_tag(state);
    }
    ALLOCV_END(hbuf);
    RB_GC_GUARD(pairs);
    RB_GC_GUARD(handle);
    kke_log_flush(&p->head.log);
    kke_raise_callback_error(&p->head); /* a partitioner's */
    if (rc != KK_OK)
        kke_raise(call.err.code ? call.err.code : rc, call.err.message);
    return handle;
}

#define KKE_POLL_CAP 256

typedef struct poll_call {
    kk_producer_t *producer;
    kk_delivery_report_t *reports;
    int timeout_ms;
    size_t n;
    int rc;
} poll_call_t;

static void *poll_nogvl(void *arg) {
    poll_call_t *call = arg;
    call->n = kk_producer_poll(call->producer, call->reports, KKE_POLL_CAP, call->timeout_ms);
    call->rc = KK_OK;
    return NULL;
}

/* _drain(timeout_ms, served) -> how many reports were served; waits (GVL released) up to
 * timeout_ms for the first one, then takes what waits without waiting. Blocks of the served
 * handles go into `served`, called by the Ruby side once the lock is left. */
static VALUE producer_drain(VALUE self, VALUE timeout, VALUE served) {
    kke_producer_t *p = get_producer(self);
    int timeout_ms = (int)kke_int_in_range(timeout, -1, INT32_MAX, "timeout");
    Check_Type(served, T_ARRAY);
    VALUE rbuf = 0;
    kk_delivery_report_t *reports = ALLOCV_N(kk_delivery_report_t, rbuf, KKE_POLL_CAP);
    long total = 0;
    for (;;) {
        kke_enter(&p->head);
        check_fork(p);
        poll_call_t call = {p->producer, reports, timeout_ms, 0, KK_ERR_INTERRUPTED};
        /* nothing to wait for: do not sleep on an empty producer */
        if (p->pending_count == 0)
            call.timeout_ms = 0;
        kke_run(&p->head, poll_nogvl, &call, &call.rc);
        /* the GVL is held from here on: no other thread polls, so nothing moves under us */
        for (size_t i = 0; i < call.n; i++) {
            const kk_delivery_report_t *r = &reports[i];
            settle(p, r->opaque, r->partition, r->offset, r->timestamp_ms, r->error, served);
        }
        total += (long)call.n;
        timeout_ms = 0;
        if (call.n < KKE_POLL_CAP)
            break;
    }
    ALLOCV_END(rbuf);
    kke_log_flush(&p->head.log);
    return LONG2NUM(total);
}

typedef struct flush_call {
    kk_producer_t *producer;
    int timeout_ms;
    size_t remaining;
    int rc;
    kk_error_t err;
} flush_call_t;

static void *flush_nogvl(void *arg) {
    flush_call_t *call = arg;
    call->rc = kk_producer_flush(call->producer, call->timeout_ms, &call->remaining, &call->err);
    return NULL;
}

static void *close_nogvl(void *arg) {
    flush_call_t *call = arg;
    call->rc = kk_producer_close(call->producer, call->timeout_ms, &call->err);
    return NULL;
}

/* _flush_wait(timeout_ms): sends what lingers and waits (GVL released) until every report is
 * queued or timeout_ms passed; the reports are then served by _drain. */
static VALUE producer_flush_wait(VALUE self, VALUE timeout) {
    kke_producer_t *p = get_producer(self);
    flush_call_t call = {0};
    call.timeout_ms = (int)kke_int_in_range(timeout, -1, INT32_MAX, "timeout");
    kke_enter(&p->head);
    check_fork(p);
    call.producer = p->producer;
    call.rc = KK_ERR_INTERRUPTED;
    kke_run(&p->head, flush_nogvl, &call, &call.rc);
    kke_log_flush(&p->head.log);
    return SIZET2NUM(call.remaining);
}

/* _close_engine(timeout_ms): flushes up to timeout_ms, purges the rest (every report queued). */
static VALUE producer_close_engine(VALUE self, VALUE timeout) {
    kke_producer_t *p = get_producer(self);
    flush_call_t call = {0};
    call.timeout_ms = (int)kke_int_in_range(timeout, 0, INT32_MAX, "timeout");
    kke_enter(&p->head);
    check_fork(p);
    call.producer = p->producer;
    call.rc = KK_ERR_INTERRUPTED;
    kke_run(&p->head, close_nogvl, &call, &call.rc);
    kke_log_flush(&p->head.log);
    return Qnil;
}

/* _event_fd: readable while reports wait (starts the I/O thread); changes after fork. */
static VALUE producer_event_fd(VALUE self) {
    kke_producer_t *p = get_producer(self);
    kke_enter(&p->head);
    check_fork(p);
    kk_error_t err = {0};
    int fd = kk_producer_event_fd(p->producer, &err);
    kke_leave(&p->head);
    if (fd < 0)
        kke_raise(err.code ? err.code : KK_ERR_STATE, err.message);
    return INT2NUM(fd);
}

/* in_flight: messages produced whose reports were not served yet. */
static VALUE producer_in_flight(VALUE self) {
    kke_producer_t *p = get_producer(self);
    if (p->pid != getpid())
        return INT2FIX(0);
    return SIZET2NUM(p->pending_count);
}

static VALUE producer_event_io_get(VALUE self) {
    kke_producer_t *p = get_producer(self);
    return p->pid == getpid() ? p->event_io : Qnil;
}

static VALUE producer_event_io_set(VALUE self, VALUE io) {
    get_producer(self)->event_io = io;
    return io;
}

static void mark_pending(const kke_producer_t *p) {
    for (const kke_handle_t *hd = p->pending; hd; hd = hd->next)
        rb_gc_mark(hd->self); /* pinned: the core holds the handle's address */
}

/* close() from another thread came during a call: before the core object goes, purge what is
 * left and settle every handle (their blocks are not called: no call of this producer will
 * come to run them). */
static void producer_leaving(kke_head_t *h) {
    kke_producer_t *p = (kke_producer_t *)h;
    if (!p->pending || p->pid != getpid())
        return;
    kk_error_t err;
    kk_producer_close(p->producer, 0, &err);
    kk_delivery_report_t reports[64];
    VALUE ignored = rb_ary_new();
    size_t n;
    while ((n = kk_producer_poll(p->producer, reports, 64, 0)) > 0)
        for (size_t i = 0; i < n; i++)
            settle(p, reports[i].opaque, reports[i].partition, reports[i].offset, reports[i].timestamp_ms,
                   reports[i].error, ignored);
    while (p->pending)
        settle(p, p->pending, -1, -1, -1, KK_ERR_PURGED, ignored);
}

static VALUE producer_busy_p(VALUE self) { return get_producer(self)->head.busy ? Qtrue : Qfalse; }

static VALUE producer_async_p(VALUE self) { return get_producer(self)->send_async ? Qtrue : Qfalse; }

/* _take_send_failures -> [failed MessageToSend objects, how many delivered] since the last
 * take, or nil when none failed (the count then keeps going) */
static VALUE producer_take_send_failures(VALUE self) {
    kke_producer_t *p = get_producer(self);
    if (NIL_P(p->send_failures) || p->pid != getpid())
        return Qnil;
    VALUE taken = rb_assoc_new(p->send_failures, LONG2NUM(p->send_delivered));
    p->send_failures = Qnil;
    p->send_delivered = 0;
    return taken;
}

/* _check_messages(list): raises as send_messages would for the first bad message, so an async
 * send_messages queues nothing unless every message can be sent (the sync path's checks) */
static VALUE producer_check_messages(VALUE self, VALUE list) {
    (void)self;
    Check_Type(list, T_ARRAY);
    build_t b = {.fill = false, .last_topic = Qundef};
    for (long i = 0; i < RARRAY_LEN(list); i++)
        build_message(&b, RARRAY_AREF(list, i), i);
    return Qnil;
}

static void init_async(VALUE c) {
    cDeliveryReport = rb_struct_define_under(kke_mKafkette, "DeliveryReport", "topic", "partition", "offset",
                                             "timestamp_ms", "error", NULL);
    cDeliveryHandle = rb_define_class_under(kke_mKafkette, "DeliveryHandle", rb_cObject);
    rb_undef_alloc_func(cDeliveryHandle);
    rb_define_method(cDeliveryHandle, "done?", handle_done_p, 0);
    rb_define_method(cDeliveryHandle, "report", handle_report, 0);
    rb_define_method(cDeliveryHandle, "producer", handle_producer, 0);
    rb_define_method(cDeliveryHandle, "topic", handle_topic, 0);
    rb_define_private_method(c, "_produce", producer_produce, 8);
    rb_define_private_method(c, "_async?", producer_async_p, 0);
    rb_define_private_method(c, "_take_send_failures", producer_take_send_failures, 0);
    rb_define_private_method(c, "_check_messages", producer_check_messages, 1);
    rb_define_private_method(c, "_drain", producer_drain, 2);
    rb_define_private_method(c, "_flush_wait", producer_flush_wait, 1);
    rb_define_private_method(c, "_close_engine", producer_close_engine, 1);
    rb_define_private_method(c, "_event_fd", producer_event_fd, 0);
    rb_define_private_method(c, "_event_io", producer_event_io_get, 0);
    rb_define_private_method(c, "_event_io=", producer_event_io_set, 1);
    rb_define_method(c, "in_flight", producer_in_flight, 0);
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
    rb_define_private_method(c, "_close", producer_close, 0);
    rb_define_private_method(c, "_busy?", producer_busy_p, 0);
    rb_define_method(c, "closed?", producer_closed_p, 0);
    rb_define_method(c, "stats", producer_stats, 0);
    init_async(c);
}
