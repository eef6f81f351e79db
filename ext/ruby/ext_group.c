/*
 * Kafkette::ConsumerGroup's native half: configuration, join/poll/commit/close (without the
 * GVL), and the rebalance callbacks, which the core calls from inside those calls: they take
 * the GVL back to run the Ruby callables while the partitions are still owned (on_revoke), so
 * a commit made there succeeds (docs/BINDINGS.md, "Threads, close and callbacks").
 */
#include "kafkette_ext.h"

#include <string.h>

typedef struct kke_group {
    kke_head_t head; /* first: the shared helpers see a kke_head_t */
    kk_group_t *group;
    VALUE topics;    /* frozen Array of frozen Strings: the subscription, shared by messages */
    VALUE on_assign, on_revoke; /* callables or nil */
    VALUE pending;   /* a poll's result held back while its callback's exception was raised */
} kke_group_t;

static void group_release(kke_head_t *h) {
    kke_group_t *g = (kke_group_t *)h;
    kk_group_free(g->group);
    g->group = NULL;
}

static void group_mark(void *ptr) {
    kke_group_t *g = ptr;
    kke_head_mark(&g->head);
    rb_gc_mark(g->topics);
    rb_gc_mark(g->on_assign);
    rb_gc_mark(g->on_revoke);
    rb_gc_mark(g->pending);
}

static void group_free(void *ptr) {
    kke_group_t *g = ptr;
    kk_group_free(g->group); /* closes sockets, stops the heartbeat thread; does not leave */
    kke_log_free(&g->head.log);
    xfree(g);
}

static size_t group_memsize(const void *ptr) {
    const kke_group_t *g = ptr;
    return sizeof(*g) + kke_head_memsize(&g->head);
}

static const rb_data_type_t group_type = {
    .wrap_struct_name = "Kafkette::ConsumerGroup",
    .function = {.dmark = group_mark, .dfree = group_free, .dsize = group_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static void leave_cleanly(kke_head_t *h);

static VALUE group_alloc(VALUE klass) {
    kke_group_t *g;
    VALUE self = TypedData_Make_Struct(klass, kke_group_t, &group_type, g);
    g->topics = g->on_assign = g->on_revoke = g->pending = Qnil;
    kke_head_init(&g->head, group_release, "Kafkette::Errors::ConsumerClosedError", "consumer group");
    g->head.leaving = leave_cleanly;
    return self;
}

static kke_group_t *get_group(VALUE self) {
    kke_group_t *g;
    TypedData_Get_Struct(self, kke_group_t, &group_type, g);
    return g;
}

static VALUE topic_string(kke_group_t *g, const char *topic) {
    for (long i = 0; i < RARRAY_LEN(g->topics); i++) {
        VALUE t = RARRAY_AREF(g->topics, i);
        if ((size_t)RSTRING_LEN(t) == strlen(topic) && memcmp(RSTRING_PTR(t), topic, strlen(topic)) == 0)
            return t;
    }
    return rb_str_freeze(rb_utf8_str_new_cstr(topic));
}

/* ---- rebalance callbacks (called by the core without the GVL) ------------------------------ */

typedef struct rebalance_args {
    kke_group_t *g;
    VALUE callable;
    const kk_topic_partition_t *parts;
    size_t count;
} rebalance_args_t;

/* partition numbers for a single-topic group, else [topic, partition] pairs */
static VALUE call_rebalance(VALUE arg) {
    const rebalance_args_t *a = (const rebalance_args_t *)arg;
    bool single = RARRAY_LEN(a->g->topics) == 1;
    VALUE list = rb_ary_new_capa((long)a->count);
    for (size_t i = 0; i < a->count; i++) {
        VALUE part = INT2NUM(a->parts[i].partition);
        rb_ary_push(list, single ? part : rb_assoc_new(topic_string(a->g, a->parts[i].topic), part));
    }
    return rb_funcall(a->callable, kke_id_call, 1, list);
}

static void on_assign_cb(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    rebalance_args_t a = {opaque, ((kke_group_t *)opaque)->on_assign, parts, n};
    kke_callback(&a.g->head, call_rebalance, (VALUE)&a);
}

static void on_revoke_cb(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    rebalance_args_t a = {opaque, ((kke_group_t *)opaque)->on_revoke, parts, n};
    kke_callback(&a.g->head, call_rebalance, (VALUE)&a);
}

/* _setup(brokers, group_id, topics, options) */
static VALUE group_setup(VALUE self, VALUE brokers, VALUE group_id, VALUE topics, VALUE opts) {
    kke_group_t *g = get_group(self);
    Check_Type(topics, T_ARRAY);
    VALUE names = rb_ary_new_capa(RARRAY_LEN(topics));
    for (long i = 0; i < RARRAY_LEN(topics); i++) {
        VALUE t = rb_ary_entry(topics, i);
        kke_cstr_arg(t, "topic");
        rb_ary_push(names, rb_str_new_frozen(t));
    }
    rb_obj_freeze(names);
    const char *id = kke_cstr_arg(group_id, "group name");

    kk_config_t *cfg;
    VALUE callbacks = rb_hash_new();
    VALUE holder = kke_config_setup(&g->head, KK_CONFIG_GROUP, brokers, Qundef, opts, callbacks, &cfg);
    kk_group_config_t *gc = kk_config_group(cfg);
    VALUE on_assign = rb_hash_lookup2(callbacks, rb_str_new_cstr("on_assign"), Qnil);
    VALUE on_revoke = rb_hash_lookup2(callbacks, rb_str_new_cstr("on_revoke"), Qnil);
    gc->group_id = id;
    gc->on_assign = NIL_P(on_assign) ? NULL : on_assign_cb;
    gc->on_revoke = NIL_P(on_revoke) ? NULL : on_revoke_cb;
    gc->rebalance_opaque = g;
    long n = RARRAY_LEN(names);
    VALUE list_buf;
    const char **list = ALLOCV_N(const char *, list_buf, n ? n : 1); /* GC-owned */
    for (long i = 0; i < n; i++) {
        VALUE t = RARRAY_AREF(names, i);
        list[i] = StringValueCStr(t);
    }
    gc->topics = list;
    gc->topic_count = (size_t)n;

    kk_error_t err;
    g->group = kk_group_new(gc, &err); /* copies what it keeps; never waits */
    ALLOCV_END(list_buf);
    kke_config_done(holder);
    RB_GC_GUARD(group_id);
    RB_GC_GUARD(names);
    if (!g->group)
        kke_raise(err.code, err.message);
    g->head.client = kk_group_client(g->group);
    g->topics = names;
    g->on_assign = on_assign;
    g->on_revoke = on_revoke;
    return self;
}

/* ---- calls without the GVL -------------------------------------------------------------- */

typedef struct group_call {
    kk_group_t *group;
    int op; /* one of the OP_ values */
    bool nested; /* a commit from inside a rebalance callback of the call in progress */
    int timeout_ms;
    const char *topic;
    int32_t partition;
    int64_t offset;
    kk_fetch_batch_t *batch;
    kk_topic_partition_t where;
    int rc;
    kk_error_t err;
} group_call_t;

enum { OP_JOIN, OP_POLL, OP_COMMIT, OP_COMMIT_CONSUMED, OP_COMMITTED, OP_PAUSE, OP_RESUME, OP_SEEK, OP_CLOSE };

static void *group_nogvl(void *arg) {
    group_call_t *c = arg;
    switch (c->op) {
    case OP_JOIN: c->rc = kk_group_join(c->group, c->timeout_ms, &c->err); break;
    case OP_POLL: c->rc = kk_group_poll(c->group, c->timeout_ms, &c->batch, &c->where, &c->err); break;
    case OP_COMMIT: c->rc = kk_group_commit(c->group, c->topic, c->partition, c->offset, &c->err); break;
    case OP_COMMIT_CONSUMED: c->rc = kk_group_commit_consumed(c->group, &c->err); break;
    case OP_COMMITTED: c->rc = kk_group_committed(c->group, c->topic, c->partition, &c->offset, &c->err); break;
    case OP_PAUSE: c->rc = kk_group_pause(c->group, c->topic, c->partition, &c->err); break;
    case OP_RESUME: c->rc = kk_group_resume(c->group, c->topic, c->partition, &c->err); break;
    case OP_SEEK: c->rc = kk_group_seek(c->group, c->topic, c->partition, c->offset, &c->err); break;
    default: c->rc = kk_group_close(c->group, &c->err); break;
    }
    return NULL;
}

/* close() from another thread (or a trap handler) during a call: leave the group cleanly
 * (commit, on_revoke, LeaveGroup) before kke_leave() frees it, so the others rebalance at once
 * instead of after the session timeout. */
static void leave_cleanly(kke_head_t *h) {
    kke_group_t *g = (kke_group_t *)h;
    group_call_t call;
    memset(&call, 0, sizeof(call));
    call.group = g->group;
    call.op = OP_CLOSE;
    kk_client_clear_interrupt(h->client); /* set by close() itself */
    kke_blocking(h->client, group_nogvl, &call); /* an interrupt only cuts it short */
}

/* kke_run(), or for a commit nested in a callback of the call in progress, the core call at once. */
static int group_run(kke_group_t *g, group_call_t *call) {
    kke_head_t *h = &g->head;
    if (!call->nested) {
        kke_run(h, group_nogvl, call, &call->rc);
    } else {
        if (!kke_blocking(h->client, group_nogvl, call))
            call->rc = KK_ERR_INTERRUPTED;
        if (h->close_pending)
            kk_client_interrupt(h->client); /* the outer call must still see the close */
    }
    if (!g->group && call->batch) { /* closed meanwhile: nobody will see it */
        kk_fetch_batch_free(call->batch);
        call->batch = NULL;
    }
    return call->rc;
}

static void call_init(kke_group_t *g, group_call_t *call, int op) {
    memset(call, 0, sizeof(*call));
    bool nestable = op == OP_COMMIT || op == OP_COMMIT_CONSUMED || op == OP_PAUSE || op == OP_RESUME || op == OP_SEEK;
    call->nested = nestable && g->head.in_callback && kke_reentered(&g->head);
    if (!call->nested)
        kke_enter(&g->head);
    call->group = g->group;
    call->op = op;
}

/* Raises what a callback raised, else the call's error, if any. */
static void finish(kke_group_t *g, const group_call_t *call) {
    if (!call->nested)
        kke_log_flush(&g->head.log);
    kke_raise_callback_error(&g->head);
    if (call->rc != KK_OK)
        kke_raise(call->err.code ? call->err.code : call->rc, call->err.message);
}

static int timeout_arg(VALUE v) { return (int)kke_int_in_range(v, 0, INT32_MAX, "timeout_ms"); }

/* _join(timeout_ms) */
static VALUE group_join(VALUE self, VALUE timeout_ms) {
    kke_group_t *g = get_group(self);
    int timeout = timeout_arg(timeout_ms);
    group_call_t call;
    call_init(g, &call, OP_JOIN);
    call.timeout_ms = timeout;
    group_run(g, &call);
    finish(g, &call);
    return Qnil;
}

typedef struct convert {
    kke_group_t *g;
    const group_call_t *call;
} convert_t;

static VALUE convert_batch(VALUE arg) {
    const convert_t *cv = (const convert_t *)arg;
    VALUE topic = topic_string(cv->g, cv->call->where.topic);
    int32_t partition = cv->call->where.partition;
    VALUE list = kke_fetched_list(cv->call->batch, topic, partition);
    return rb_ary_new_from_args(3, topic, INT2NUM(partition), list);
}

/* _poll(timeout_ms) -> [topic, partition, [FetchedMessage, ...]] or nil */
static VALUE group_poll(VALUE self, VALUE timeout_ms) {
    kke_group_t *g = get_group(self);
    int timeout = timeout_arg(timeout_ms);
    if (!NIL_P(g->pending)) { /* the batch of a poll that raised a callback's exception */
        VALUE result = g->pending;
        g->pending = Qnil;
        return result;
    }
    group_call_t call;
    call_init(g, &call, OP_POLL);
    call.timeout_ms = timeout;
    group_run(g, &call);
    VALUE result = Qnil;
    if (call.batch) {
        convert_t cv = {g, &call};
        int state = 0;
        result = rb_protect(convert_batch, (VALUE)&cv, &state);
        kk_fetch_batch_free(call.batch);
        if (state) {
            g->head.callback_error = Qnil;
            rb_jump_tag(state);
        }
        if (!NIL_P(g->head.callback_error))
            g->pending = result; /* delivered by the next poll, not lost */
    }
    finish(g, &call);
    return result;
}

/* _commit(topic, partition, offset) */
static VALUE group_commit(VALUE self, VALUE topic, VALUE partition, VALUE offset) {
    kke_group_t *g = get_group(self);
    const char *name = kke_cstr_arg(topic, "topic");
    int32_t part = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition");
    int64_t off = (int64_t)kke_int_in_range(offset, 0, INT64_MAX, "offset");
    group_call_t call;
    call_init(g, &call, OP_COMMIT);
    call.topic = name;
    call.partition = part;
    call.offset = off;
    group_run(g, &call);
    RB_GC_GUARD(topic);
    finish(g, &call);
    return Qtrue;
}

static VALUE group_commit_consumed(VALUE self) {
    kke_group_t *g = get_group(self);
    group_call_t call;
    call_init(g, &call, OP_COMMIT_CONSUMED);
    group_run(g, &call);
    finish(g, &call);
    return Qtrue;
}

/* _committed(topic, partition) -> Integer or nil */
static VALUE group_committed(VALUE self, VALUE topic, VALUE partition) {
    kke_group_t *g = get_group(self);
    const char *name = kke_cstr_arg(topic, "topic");
    int32_t part = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition");
    group_call_t call;
    call_init(g, &call, OP_COMMITTED);
    call.topic = name;
    call.partition = part;
    group_run(g, &call);
    RB_GC_GUARD(topic);
    finish(g, &call);
    return call.offset >= 0 ? LL2NUM(call.offset) : Qnil;
}

/* _partition_op(op, topic, partition, offset): pause (0), resume (1) or seek (2) */
static VALUE group_partition_op(VALUE self, VALUE which, VALUE topic, VALUE partition, VALUE offset) {
    kke_group_t *g = get_group(self);
    int op = (int)kke_int_in_range(which, 0, 2, "op");
    const char *name = kke_cstr_arg(topic, "topic");
    int32_t part = (int32_t)kke_int_in_range(partition, 0, INT32_MAX, "partition");
    int64_t off = op == 2 ? (int64_t)kke_int_in_range(offset, 0, INT64_MAX, "offset") : 0;
    group_call_t call;
    call_init(g, &call, op == 0 ? OP_PAUSE : op == 1 ? OP_RESUME : OP_SEEK);
    call.topic = name;
    call.partition = part;
    call.offset = off;
    group_run(g, &call);
    RB_GC_GUARD(topic);
    finish(g, &call);
    return Qnil;
}

/* The member's state may be read when no call runs, or from the call's own callbacks. */
static bool readable(const kke_group_t *g) {
    return g->group && (!g->head.busy || (g->head.in_callback && kke_reentered(&g->head)));
}

typedef size_t (*partition_list_fn)(const kk_group_t *, kk_topic_partition_t *, size_t);

/* [[topic, partition], ...] sorted from kk_group_claimed or kk_group_paused; [] once closed */
static VALUE partition_list(VALUE self, partition_list_fn list_fn) {
    kke_group_t *g = get_group(self);
    if (!readable(g))
        return rb_ary_new();
    size_t n = list_fn(g->group, NULL, 0);
    VALUE list = rb_ary_new_capa((long)n);
    if (n == 0)
        return list;
    VALUE buf;
    kk_topic_partition_t *parts = ALLOCV_N(kk_topic_partition_t, buf, n); /* GC-owned: may raise */
    n = list_fn(g->group, parts, n);
    for (size_t i = 0; i < n; i++)
        rb_ary_push(list, rb_assoc_new(topic_string(g, parts[i].topic), INT2NUM(parts[i].partition)));
    ALLOCV_END(buf);
    return list;
}

static VALUE group_claimed(VALUE self) { return partition_list(self, kk_group_claimed); }
static VALUE group_paused(VALUE self) { return partition_list(self, kk_group_paused); }

static VALUE group_generation(VALUE self) {
    kke_group_t *g = get_group(self);
    return INT2NUM(readable(g) ? kk_group_generation(g->group) : -1);
}

static VALUE group_member_id(VALUE self) {
    kke_group_t *g = get_group(self);
    return rb_utf8_str_new_cstr(readable(g) ? kk_group_member_id(g->group) : "");
}

static VALUE group_leader_p(VALUE self) {
    kke_group_t *g = get_group(self);
    return readable(g) && kk_group_is_leader(g->group) ? Qtrue : Qfalse;
}

/* Leaves the group cleanly (auto-commit, on_revoke, LeaveGroup) and frees it; from another
 * thread while a call waits, interrupts that call, which then leaves and frees. Idempotent. */
static VALUE group_close(VALUE self) {
    kke_group_t *g = get_group(self);
    if (g->head.closed || g->head.close_pending)
        return Qnil;
    if (g->head.busy || !g->group) {
        kke_close(&g->head);
        return Qnil;
    }
    group_call_t call;
    call_init(g, &call, OP_CLOSE);
    /* An interrupt only cuts the goodbye short; the group is freed either way. */
    if (!kke_blocking(g->head.client, group_nogvl, &call))
        call.rc = KK_ERR_INTERRUPTED;
    kke_leave(&g->head);
    kke_close(&g->head);
    if (call.rc == KK_ERR_INTERRUPTED)
        call.rc = KK_OK;
    finish(g, &call);
    return Qnil;
}

static VALUE group_partition_counts(VALUE self, VALUE topics) {
    return kke_partition_counts(&get_group(self)->head, topics);
}

static void group_fill_stats(kke_head_t *h, kk_stats_t *out) { kk_group_stats(((kke_group_t *)h)->group, out); }

/* stats -> the Hash of docs/STATISTICS.md */
static VALUE group_stats(VALUE self) { return kke_stats(&get_group(self)->head, group_fill_stats); }

static VALUE group_closed_p(VALUE self) {
    kke_group_t *g = get_group(self);
    return g->head.closed || g->head.close_pending || !g->group ? Qtrue : Qfalse;
}

void kke_init_group(void) {
    VALUE c = rb_define_class_under(kke_mKafkette, "ConsumerGroup", rb_cObject);
    rb_define_alloc_func(c, group_alloc);
    rb_define_private_method(c, "_setup", group_setup, 4);
    rb_define_private_method(c, "_join", group_join, 1);
    rb_define_private_method(c, "_poll", group_poll, 1);
    rb_define_private_method(c, "_commit", group_commit, 3);
    rb_define_private_method(c, "_commit_consumed", group_commit_consumed, 0);
    rb_define_private_method(c, "_committed", group_committed, 2);
    rb_define_private_method(c, "_claimed", group_claimed, 0);
    rb_define_private_method(c, "_paused", group_paused, 0);
    rb_define_private_method(c, "_partition_op", group_partition_op, 4);
    rb_define_private_method(c, "_partition_counts", group_partition_counts, 1);
    rb_define_private_method(c, "_close", group_close, 0);
    rb_define_method(c, "generation", group_generation, 0);
    rb_define_method(c, "member_id", group_member_id, 0);
    rb_define_method(c, "leader?", group_leader_p, 0);
    rb_define_method(c, "closed?", group_closed_p, 0);
    rb_define_method(c, "stats", group_stats, 0);
}
