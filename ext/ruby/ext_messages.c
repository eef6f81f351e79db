/*
 * Kafkette::MessageToSend and Kafkette::FetchedMessage as C structs: a send reads its messages
 * and records their results without an instance-variable lookup per field, and a fetch builds
 * its messages in one allocation per batch (a slab of structs the message objects point into).
 */
#include "kafkette_ext.h"

#include <string.h>
#include <time.h>

/* ---- MessageToSend --------------------------------------------------------------------------- */

static void outmsg_mark(void *ptr) {
    kke_outmsg_t *m = ptr;
    rb_gc_mark(m->topic);
    rb_gc_mark(m->value);
    rb_gc_mark(m->key);
    rb_gc_mark(m->headers);
}

static size_t outmsg_memsize(const void *ptr) { return sizeof(kke_outmsg_t); }

static const rb_data_type_t outmsg_type = {
    .wrap_struct_name = "Kafkette::MessageToSend",
    .function = {.dmark = outmsg_mark, .dfree = RUBY_TYPED_DEFAULT_FREE, .dsize = outmsg_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY | RUBY_TYPED_WB_PROTECTED,
};

static VALUE outmsg_alloc(VALUE klass) {
    kke_outmsg_t *m;
    VALUE self = TypedData_Make_Struct(klass, kke_outmsg_t, &outmsg_type, m);
    m->topic = m->value = m->key = m->headers = Qnil;
    m->partition = m->result_partition = -1;
    m->offset = -1;
    return self;
}

kke_outmsg_t *kke_outmsg_get(VALUE obj) {
    if (!rb_typeddata_is_kind_of(obj, &outmsg_type))
        return NULL;
    return RTYPEDDATA_DATA(obj);
}

static kke_outmsg_t *outmsg(VALUE self) {
    kke_outmsg_t *m;
    TypedData_Get_Struct(self, kke_outmsg_t, &outmsg_type, m);
    return m;
}

static int check_header(VALUE key, VALUE value, VALUE arg) {
    (void)arg;
    if (!RB_TYPE_P(key, T_STRING))
        rb_raise(rb_eTypeError, "header names must be Strings, not %s", rb_obj_classname(key));
    if (!NIL_P(value) && !RB_TYPE_P(value, T_STRING))
        rb_raise(rb_eTypeError, "header values must be Strings or nil, not %s", rb_obj_classname(value));
    return ST_CONTINUE;
}

void kke_check_headers(VALUE headers) {
    if (!RB_TYPE_P(headers, T_HASH))
        rb_raise(rb_eTypeError, "headers must be a Hash, not %s", rb_obj_classname(headers));
    rb_hash_foreach(headers, check_header, Qnil);
}

/* A Time or an Integer of milliseconds since the epoch. */
static int64_t timestamp_ms(VALUE ts) {
    if (rb_obj_is_kind_of(ts, rb_cTime)) {
        struct timespec t = rb_time_timespec(ts);
        if (t.tv_sec < 0)
            rb_raise(rb_eArgError, "timestamp must not be before 1970");
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
    }
    return (int64_t)kke_int_in_range(ts, 0, INT64_MAX / 4, "timestamp");
}

static ID id_partition_kw, id_headers_kw, id_timestamp_kw;

/* initialize(topic, value, key = nil, partition: nil, headers: nil, timestamp: nil) */
static VALUE outmsg_initialize(int argc, VALUE *argv, VALUE self) {
    VALUE topic, value, key, opts;
    rb_scan_args(argc, argv, "21:", &topic, &value, &key, &opts);
    VALUE kw[3] = {Qundef, Qundef, Qundef};
    if (!NIL_P(opts)) {
        ID ids[3] = {id_partition_kw, id_headers_kw, id_timestamp_kw};
        rb_get_kwargs(opts, ids, 0, 3, kw);
    }
    VALUE partition = kw[0] == Qundef ? Qnil : kw[0];
    VALUE headers = kw[1] == Qundef ? Qnil : kw[1];
    VALUE timestamp = kw[2] == Qundef ? Qnil : kw[2];
    if (NIL_P(topic))
        rb_raise(rb_eArgError, "Must provide a non-nil topic");
    if (!RB_TYPE_P(topic, T_STRING))
        rb_raise(rb_eTypeError, "topic must be a String, not %s", rb_obj_classname(topic));
    if (!NIL_P(value) && !RB_TYPE_P(value, T_STRING))
        rb_raise(rb_eTypeError, "value must be a String or nil, not %s", rb_obj_classname(value));
    if (!NIL_P(key) && !RB_TYPE_P(key, T_STRING))
        rb_raise(rb_eTypeError, "key must be a String or nil, not %s", rb_obj_classname(key));
    int32_t part = NIL_P(partition) ? -1 : (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition");
    if (!NIL_P(headers))
        kke_check_headers(headers);
    int64_t ts = NIL_P(timestamp) ? -1 : timestamp_ms(timestamp);

    kke_outmsg_t *m = outmsg(self);
    RB_OBJ_WRITE(self, &m->topic, topic);
    RB_OBJ_WRITE(self, &m->value, value);
    RB_OBJ_WRITE(self, &m->key, key);
    RB_OBJ_WRITE(self, &m->headers, headers);
    m->partition = part;
    m->timestamp = ts;
    m->result_partition = -1;
    m->offset = -1;
    m->error = 0;
    return self;
}

static VALUE outmsg_topic(VALUE self) { return outmsg(self)->topic; }
static VALUE outmsg_value(VALUE self) { return outmsg(self)->value; }
static VALUE outmsg_key(VALUE self) { return outmsg(self)->key; }
static VALUE outmsg_headers(VALUE self) { return outmsg(self)->headers; }

static VALUE outmsg_timestamp(VALUE self) {
    int64_t ts = outmsg(self)->timestamp;
    return ts >= 0 ? LL2NUM(ts) : Qnil;
}

/* Where the last send put it; before a send, the partition asked for (or nil). */
static VALUE outmsg_partition(VALUE self) {
    kke_outmsg_t *m = outmsg(self);
    int32_t p = m->result_partition >= 0 ? m->result_partition : m->partition;
    return p >= 0 ? INT2FIX(p) : Qnil;
}

static VALUE outmsg_requested_partition(VALUE self) {
    int32_t p = outmsg(self)->partition;
    return p >= 0 ? INT2FIX(p) : Qnil;
}

static VALUE outmsg_offset(VALUE self) {
    int64_t o = outmsg(self)->offset;
    return o >= 0 ? LL2NUM(o) : Qnil;
}

static VALUE outmsg_error_code(VALUE self) {
    int e = outmsg(self)->error;
    return e ? INT2NUM(e) : Qnil;
}

static VALUE outmsg_delivered_p(VALUE self) {
    kke_outmsg_t *m = outmsg(self);
    return m->result_partition >= 0 && m->error == 0 ? Qtrue : Qfalse;
}

/* ---- FetchedMessage -------------------------------------------------------------------------- */

/* The messages of one fetch share one slab; each message object points at its entry and holds
 * a reference, and the last one to be collected frees the slab. A FetchedMessage made by Ruby
 * (FetchedMessage.new) owns its struct alone (slab NULL). */
typedef struct kke_inmsg {
    struct kke_slab *slab;
    VALUE topic, key, value, headers;
    int64_t offset;
    int64_t timestamp; /* -1: none */
    int32_t partition; /* -1: none */
} kke_inmsg_t;

typedef struct kke_slab {
    size_t refs;
    size_t count;
    kke_inmsg_t msgs[];
} kke_slab_t;

static VALUE empty_headers;

static void inmsg_mark(void *ptr) {
    kke_inmsg_t *m = ptr;
    rb_gc_mark(m->topic);
    rb_gc_mark(m->key);
    rb_gc_mark(m->value);
    rb_gc_mark(m->headers);
}

static void slab_unref(kke_slab_t *slab) {
    if (--slab->refs == 0)
        xfree(slab);
}

static void inmsg_free(void *ptr) {
    kke_inmsg_t *m = ptr;
    if (m->slab)
        slab_unref(m->slab);
    else
        xfree(m);
}

static size_t inmsg_memsize(const void *ptr) { return sizeof(kke_inmsg_t); }

static const rb_data_type_t inmsg_type = {
    .wrap_struct_name = "Kafkette::FetchedMessage",
    .function = {.dmark = inmsg_mark, .dfree = inmsg_free, .dsize = inmsg_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY | RUBY_TYPED_WB_PROTECTED,
};

static VALUE inmsg_alloc(VALUE klass) {
    kke_inmsg_t *m;
    VALUE self = TypedData_Make_Struct(klass, kke_inmsg_t, &inmsg_type, m);
    m->topic = m->key = m->value = m->headers = Qnil;
    m->offset = -1;
    m->timestamp = -1;
    m->partition = -1;
    return self;
}

static kke_inmsg_t *inmsg(VALUE self) {
    kke_inmsg_t *m;
    TypedData_Get_Struct(self, kke_inmsg_t, &inmsg_type, m);
    return m;
}

/* initialize(topic, value, key, offset, partition: nil, timestamp: nil, headers: nil):
 * Poseidon's argument order, for code that builds its own. */
static VALUE inmsg_initialize(int argc, VALUE *argv, VALUE self) {
    VALUE topic, value, key, offset, opts;
    rb_scan_args(argc, argv, "4:", &topic, &value, &key, &offset, &opts);
    VALUE kw[3] = {Qundef, Qundef, Qundef};
    if (!NIL_P(opts)) {
        ID ids[3] = {id_partition_kw, id_timestamp_kw, id_headers_kw};
        rb_get_kwargs(opts, ids, 0, 3, kw);
    }
    kke_inmsg_t *m = inmsg(self);
    if (m->slab)
        rb_raise(rb_eRuntimeError, "a fetched message cannot be initialized again");
    m->offset = NIL_P(offset) ? -1 : (int64_t)kke_int_in_range(offset, 0, INT64_MAX / 4, "offset");
    m->partition = kw[0] == Qundef || NIL_P(kw[0]) ? -1 : (int32_t)kke_int_in_range(kw[0], 0, INT32_MAX, "partition");
    m->timestamp = kw[1] == Qundef || NIL_P(kw[1]) ? -1 : timestamp_ms(kw[1]);
    VALUE headers = kw[2] == Qundef ? Qnil : kw[2];
    if (!NIL_P(headers))
        kke_check_headers(headers);
    RB_OBJ_WRITE(self, &m->topic, topic);
    RB_OBJ_WRITE(self, &m->value, value);
    RB_OBJ_WRITE(self, &m->key, key);
    RB_OBJ_WRITE(self, &m->headers, headers);
    return self;
}

static VALUE new_headers(const kk_fetched_message_t *m) {
    VALUE h = rb_hash_new();
    for (size_t i = 0; i < m->header_count; i++) {
        const kk_fetched_header_t *fh = &m->headers[i];
        VALUE key = rb_utf8_str_new(fh->key, (long)fh->key_len);
        VALUE value = fh->value ? rb_str_new(fh->value, (long)fh->value_len) : Qnil;
        rb_hash_aset(h, key, value);
    }
    return h;
}

typedef struct fill {
    const kk_fetch_batch_t *batch;
    kke_slab_t *slab;
    VALUE list;
} fill_t;

static VALUE fill_slab(VALUE arg) {
    fill_t *f = (fill_t *)arg;
    for (size_t i = 0; i < f->batch->count; i++) {
        const kk_fetched_message_t *fm = &f->batch->messages[i];
        kke_inmsg_t *m = &f->slab->msgs[i];
        /* The object exists (and is in the list) before its strings: a GC in between marks them. */
        VALUE obj = TypedData_Wrap_Struct(kke_cFetchedMessage, &inmsg_type, m);
        f->slab->refs++;
        rb_ary_push(f->list, obj);
        if (fm->key)
            RB_OBJ_WRITE(obj, &m->key, rb_str_new(fm->key, (long)fm->key_len));
        if (fm->value)
            RB_OBJ_WRITE(obj, &m->value, rb_str_new(fm->value, (long)fm->value_len));
        if (fm->header_count)
            RB_OBJ_WRITE(obj, &m->headers, new_headers(fm));
    }
    return Qnil;
}

VALUE kke_fetched_list(const kk_fetch_batch_t *batch, VALUE topic, int32_t partition) {
    size_t n = batch->count;
    VALUE list = rb_ary_new_capa((long)n);
    if (n == 0)
        return list;
    kke_slab_t *slab = ruby_xmalloc(sizeof(*slab) + n * sizeof(kke_inmsg_t));
    slab->refs = 1; /* ours while we fill it; each message object adds one */
    slab->count = n;
    for (size_t i = 0; i < n; i++) {
        const kk_fetched_message_t *fm = &batch->messages[i];
        kke_inmsg_t *m = &slab->msgs[i];
        m->slab = slab;
        m->topic = topic;
        m->key = m->value = m->headers = Qnil;
        m->offset = fm->offset;
        m->timestamp = fm->timestamp;
        m->partition = partition;
    }
    fill_t f = {batch, slab, list};
    int state = 0;
    rb_protect(fill_slab, (VALUE)&f, &state);
    slab_unref(slab); /* the messages made so far keep it alive */
    if (state)
        rb_jump_tag(state);
    RB_GC_GUARD(topic);
    return list;
}

static VALUE inmsg_topic(VALUE self) { return inmsg(self)->topic; }
static VALUE inmsg_key(VALUE self) { return inmsg(self)->key; }
static VALUE inmsg_value(VALUE self) { return inmsg(self)->value; }

static VALUE inmsg_headers(VALUE self) {
    VALUE h = inmsg(self)->headers;
    return NIL_P(h) ? empty_headers : h;
}

static VALUE inmsg_offset(VALUE self) {
    int64_t o = inmsg(self)->offset;
    return o >= 0 ? LL2NUM(o) : Qnil;
}

static VALUE inmsg_timestamp(VALUE self) {
    int64_t t = inmsg(self)->timestamp;
    return t >= 0 ? LL2NUM(t) : Qnil;
}

static VALUE inmsg_partition(VALUE self) {
    int32_t p = inmsg(self)->partition;
    return p >= 0 ? INT2FIX(p) : Qnil;
}

void kke_init_messages(void) {
    id_partition_kw = rb_intern("partition");
    id_headers_kw = rb_intern("headers");
    id_timestamp_kw = rb_intern("timestamp");

    VALUE c = kke_cMessageToSend;
    rb_define_alloc_func(c, outmsg_alloc);
    rb_define_method(c, "initialize", outmsg_initialize, -1);
    rb_define_method(c, "topic", outmsg_topic, 0);
    rb_define_method(c, "value", outmsg_value, 0);
    rb_define_method(c, "key", outmsg_key, 0);
    rb_define_method(c, "headers", outmsg_headers, 0);
    rb_define_method(c, "timestamp", outmsg_timestamp, 0);
    rb_define_method(c, "partition", outmsg_partition, 0);
    rb_define_method(c, "requested_partition", outmsg_requested_partition, 0);
    rb_define_method(c, "offset", outmsg_offset, 0);
    rb_define_method(c, "error_code", outmsg_error_code, 0);
    rb_define_method(c, "delivered?", outmsg_delivered_p, 0);

    empty_headers = rb_hash_freeze(rb_hash_new());
    rb_gc_register_mark_object(empty_headers);
    c = kke_cFetchedMessage;
    rb_define_alloc_func(c, inmsg_alloc);
    rb_define_const(c, "EMPTY_HEADERS", empty_headers);
    rb_define_method(c, "initialize", inmsg_initialize, -1);
    rb_define_method(c, "topic", inmsg_topic, 0);
    rb_define_method(c, "partition", inmsg_partition, 0);
    rb_define_method(c, "offset", inmsg_offset, 0);
    rb_define_method(c, "key", inmsg_key, 0);
    rb_define_method(c, "value", inmsg_value, 0);
    rb_define_method(c, "timestamp", inmsg_timestamp, 0);
    rb_define_method(c, "headers", inmsg_headers, 0);
}
