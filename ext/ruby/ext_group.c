/*
 * Kafkette::ConsumerGroup's native half: configuration, join/poll/commit/close (without the
 * GVL), and the rebalance events the core reports while the GVL is released.
 *
 * The core calls on_assign/on_revoke inside kk_group_poll/join/close, on this thread but
 * without the GVL, so they cannot call Ruby: they copy the partitions into a queue owned by
 * the Ruby object, and the Ruby layer drains it (_take_events) once the call has returned.
 */
#include "kafkette_ext.h"

#include <stdlib.h>
#include <string.h>

/* One rebalance event, copied out of the core's callback with plain malloc (no Ruby there). */
typedef struct group_event {
    bool assign;   /* else revoke */
    size_t count;
    int32_t *partitions;
    char **topics;
} group_event_t;

typedef struct kke_group {
    kke_head_t head; /* first: the shared helpers see a kke_head_t */
    kk_group_t *group;
    VALUE topics;    /* frozen Array of frozen Strings: the subscription, shared by messages */
    group_event_t *events;
    size_t event_count, event_cap;
    bool events_dropped; /* out of memory in a callback */
} kke_group_t;

static void events_clear(kke_group_t *g) {
    for (size_t i = 0; i < g->event_count; i++) {
        for (size_t j = 0; j < g->events[i].count; j++)
            free(g->events[i].topics[j]);
        free(g->events[i].topics);
        free(g->events[i].partitions);
    }
    g->event_count = 0;
}

static void events_free(kke_group_t *g) {
    events_clear(g);
    free(g->events);
    g->events = NULL;
    g->event_cap = 0;
}

/* Runs without the GVL: only malloc and memcpy. */
static void push_event(kke_group_t *g, bool assign, const kk_topic_partition_t *parts, size_t n) {
    if (g->event_count == g->event_cap) {
        size_t cap = g->event_cap ? g->event_cap * 2 : 4;
        group_event_t *grown = realloc(g->events, cap * sizeof(*grown));
        if (!grown) {
            g->events_dropped = true;
            return;
        }
        g->events = grown;
        g->event_cap = cap;
    }
    group_event_t ev = {assign, 0, NULL, NULL};
    if (n) {
        ev.partitions = malloc(n * sizeof(*ev.partitions));
        ev.topics = calloc(n, sizeof(*ev.topics));
        if (!ev.partitions || !ev.topics) {
            free(ev.partitions);
            free(ev.topics);
            g->events_dropped = true;
            return;
        }
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(parts[i].topic);
            char *copy = malloc(len + 1);
            if (!copy) {
                g->events_dropped = true;
                break;
            }
            memcpy(copy, parts[i].topic, len + 1);
            ev.topics[i] = copy;
            ev.partitions[i] = parts[i].partition;
            ev.count = i + 1;
        }
    }
    g->events[g->event_count++] = ev;
}

static void on_assign_cb(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    push_event(opaque, true, parts, n);
}

static void on_revoke_cb(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    push_event(opaque, false, parts, n);
}

static void group_release(kke_head_t *h) {
    kke_group_t *g = (kke_group_t *)h;
    kk_group_free(g->group);
    g->group = NULL;
}

static void group_mark(void *ptr) {
    kke_group_t *g = ptr;
    rb_gc_mark(g->topics);
}

static void group_free(void *ptr) {
    kke_group_t *g = ptr;
    kk_group_free(g->group); /* closes sockets, stops the heartbeat thread; does not leave */
    kke_log_free(&g->head.log);
    events_free(g);
    xfree(g);
}

static size_t group_memsize(const void *ptr) {
    const kke_group_t *g = ptr;
    return sizeof(*g) + kke_head_memsize(&g->head) + g->event_cap * sizeof(group_event_t);
}

static const rb_data_type_t group_type = {
    .wrap_struct_name = "Kafkette::ConsumerGroup",
    .function = {.dmark = group_mark, .dfree = group_free, .dsize = group_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE group_alloc(VALUE klass) {
    kke_group_t *g;
    VALUE self = TypedData_Make_Struct(klass, kke_group_t, &group_type, g);
    g->topics = Qnil;
    g->head.release = group_release;
    g->head.closed_class = "Kafkette::Errors::ClosedError";
    g->head.what = "consumer group";
    return self;
}

static kke_group_t *get_group(VALUE self) {
    kke_group_t *g;
    TypedData_Get_Struct(self, kke_group_t, &group_type, g);
    return g;
}

/* _setup(bootstrap, group_id, topics, options) */
static VALUE group_setup(VALUE self, VALUE bootstrap, VALUE group_id, VALUE topics, VALUE opts) {
    kke_group_t *g = get_group(self);
    if (g->group || g->head.closed)
        rb_raise(rb_eRuntimeError, "the consumer group is already set up");
    if (!NIL_P(opts))
        Check_Type(opts, T_HASH);
    Check_Type(topics, T_ARRAY);

    /* Everything that may raise happens before the one C allocation below. */
    VALUE names = rb_ary_new_capa(RARRAY_LEN(topics));
    for (long i = 0; i < RARRAY_LEN(topics); i++) {
        VALUE t = rb_ary_entry(topics, i);
        kke_cstr_arg(t, "topic");
        rb_ary_push(names, rb_str_new_frozen(t));
    }
    rb_obj_freeze(names);

    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = kke_cstr_arg(bootstrap, "brokers");
    cfg.client.client_id = kke_opt_cstr(opts, "client_id");
    cfg.client.connect_timeout_ms = (int)kke_opt_int(opts, "connect_timeout_ms", cfg.client.connect_timeout_ms, 1, INT32_MAX);
    cfg.client.request_timeout_ms = (int)kke_opt_int(opts, "request_timeout_ms", cfg.client.request_timeout_ms, 1, INT32_MAX);
    cfg.client.max_response_bytes = (int32_t)kke_opt_int(opts, "max_response_bytes", cfg.client.max_response_bytes, 1, INT32_MAX);
    kke_opt_api_versions(opts, &cfg.client);
    cfg.group_id = kke_cstr_arg(group_id, "group name");
    cfg.assignor = kke_opt_cstr(opts, "assignor");
    cfg.session_timeout_ms = (int)kke_opt_int(opts, "session_timeout_ms", cfg.session_timeout_ms, 1, INT32_MAX);
    cfg.rebalance_timeout_ms = (int)kke_opt_int(opts, "rebalance_timeout_ms", cfg.rebalance_timeout_ms, 1, INT32_MAX);
    cfg.heartbeat_interval_ms = (int)kke_opt_int(opts, "heartbeat_interval_ms", cfg.heartbeat_interval_ms, 1, INT32_MAX);
    cfg.auto_commit_interval_ms = (int)kke_opt_int(opts, "auto_commit_interval_ms", cfg.auto_commit_interval_ms, 0, INT32_MAX);
    cfg.start_when_no_commit = kke_opt_bool(opts, "start_latest", false) ? KK_RESET_LATEST : KK_RESET_EARLIEST;
    cfg.max_bytes = (int32_t)kke_opt_int(opts, "max_bytes", cfg.max_bytes, 1, INT32_MAX);
    cfg.max_wait_ms = (int32_t)kke_opt_int(opts, "max_wait_ms", cfg.max_wait_ms, 0, INT32_MAX);
    cfg.metadata_refresh_interval_ms = (int)kke_opt_int(opts, "metadata_refresh_interval_ms", cfg.metadata_refresh_interval_ms, 1, INT32_MAX);
    cfg.retry_backoff_ms = (int)kke_opt_int(opts, "retry_backoff_ms", cfg.retry_backoff_ms, 0, INT32_MAX);
    cfg.client.log_cb = kke_log_cb;
    cfg.client.log_opaque = &g->head.log;
    cfg.on_assign = on_assign_cb;
    cfg.on_revoke = on_revoke_cb;
    cfg.rebalance_opaque = g;

    long n = RARRAY_LEN(names);
    VALUE list_buf;
    const char **list = ALLOCV_N(const char *, list_buf, n ? n : 1); /* GC-owned: may raise */
    for (long i = 0; i < n; i++) {
        VALUE t = RARRAY_AREF(names, i);
        list[i] = StringValueCStr(t);
    }
    cfg.topics = list;
    cfg.topic_count = (size_t)n;

    kk_error_t err;
    g->group = kk_group_new(&cfg, &err); /* copies what it keeps; never waits */
    ALLOCV_END(list_buf);
    RB_GC_GUARD(bootstrap);
    RB_GC_GUARD(group_id);
    RB_GC_GUARD(names);
    RB_GC_GUARD(opts);
    if (!g->group)
        kke_raise(err.code, err.message);
    g->head.client = kk_group_client(g->group);
    g->topics = names;
    return self;
}

/* ---- calls without the GVL -------------------------------------------------------------- */

typedef struct group_call {
    kk_group_t *group;
    int op; /* one of the OP_ values */
    int timeout_ms;
    const char *topic;
    int32_t partition;
    int64_t offset;
    kk_fetch_batch_t *batch;
    kk_topic_partition_t where;
    int rc;
    kk_error_t err;
} group_call_t;

enum { OP_JOIN, OP_POLL, OP_COMMIT, OP_COMMIT_CONSUMED, OP_COMMITTED, OP_CLOSE };

static void *group_nogvl(void *arg) {
    group_call_t *c = arg;
    switch (c->op) {
    case OP_JOIN: c->rc = kk_group_join(c->group, c->timeout_ms, &c->err); break;
    case OP_POLL: c->rc = kk_group_poll(c->group, c->timeout_ms, &c->batch, &c->where, &c->err); break;
    case OP_COMMIT: c->rc = kk_group_commit(c->group, c->topic, c->partition, c->offset, &c->err); break;
    case OP_COMMIT_CONSUMED: c->rc = kk_group_commit_consumed(c->group, &c->err); break;
    case OP_COMMITTED: c->rc = kk_group_committed(c->group, c->topic, c->partition, &c->offset, &c->err); break;
    default: c->rc = kk_group_close(c->group, &c->err); break;
    }
    return NULL;
}

/* close() from another thread (or a trap handler) while a call waits: leave the group cleanly
 * (commit, on_revoke, LeaveGroup) before kke_leave() frees it, so the others rebalance at once
 * instead of after the session timeout. */
static void leave_if_closing(kke_group_t *g) {
    if (!g->head.close_pending || !g->group)
        return;
    group_call_t call;
    memset(&call, 0, sizeof(call));
    call.group = g->group;
    call.op = OP_CLOSE;
    kk_client_clear_interrupt(g->head.client); /* set by close() itself */
    kke_blocking(g->head.client, group_nogvl, &call); /* an interrupt only cuts it short */
}

/* kke_run() with the clean leave above; raises as kke_run does. */
static int group_run(kke_group_t *g, group_call_t *call) {
    kke_head_t *h = &g->head;
    for (;;) {
        if (!kke_blocking(h->client, group_nogvl, call))
            call->rc = KK_ERR_INTERRUPTED;
        if (call->rc != KK_ERR_INTERRUPTED || h->close_pending)
            break;
        int state = kke_check_interrupt();
        if (state) {
            leave_if_closing(g);
            kke_leave(h);
            rb_jump_tag(state);
        }
    }
    if (h->close_pending && call->batch) {
        kk_fetch_batch_free(call->batch); /* closing: nobody will see it */
        call->batch = NULL;
    }
    leave_if_closing(g);
    if (kke_leave(h) && call->rc == KK_ERR_INTERRUPTED)
        rb_raise(rb_path2class(h->closed_class), "the %s was closed during the call", h->what);
    return call->rc;
}

static void call_init(kke_group_t *g, group_call_t *call, int op) {
    memset(call, 0, sizeof(*call));
    kke_enter(&g->head);
    call->group = g->group;
    call->op = op;
}

static NORETURN(void raise_call(kke_group_t *g, const group_call_t *call));
static void raise_call(kke_group_t *g, const group_call_t *call) {
    kke_log_flush(&g->head.log);
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
    if (group_run(g, &call) != KK_OK)
        raise_call(g, &call);
    kke_log_flush(&g->head.log);
    return Qnil;
}

static VALUE topic_string(kke_group_t *g, const char *topic) {
    for (long i = 0; i < RARRAY_LEN(g->topics); i++) {
        VALUE t = RARRAY_AREF(g->topics, i);
        if ((size_t)RSTRING_LEN(t) == strlen(topic) && memcmp(RSTRING_PTR(t), topic, strlen(topic)) == 0)
            return t;
    }
    return rb_str_freeze(rb_utf8_str_new_cstr(topic));
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
    group_call_t call;
    call_init(g, &call, OP_POLL);
    call.timeout_ms = timeout;
    if (group_run(g, &call) != KK_OK)
        raise_call(g, &call);
    if (!call.batch) {
        kke_log_flush(&g->head.log);
        return Qnil;
    }
    convert_t cv = {g, &call};
    int state = 0;
    VALUE result = rb_protect(convert_batch, (VALUE)&cv, &state);
    kk_fetch_batch_free(call.batch);
    if (state)
        rb_jump_tag(state);
    RB_GC_GUARD(result);
    kke_log_flush(&g->head.log);
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
    int rc = group_run(g, &call);
    RB_GC_GUARD(topic);
    if (rc != KK_OK)
        raise_call(g, &call);
    kke_log_flush(&g->head.log);
    return Qtrue;
}

static VALUE group_commit_consumed(VALUE self) {
    kke_group_t *g = get_group(self);
    group_call_t call;
    call_init(g, &call, OP_COMMIT_CONSUMED);
    if (group_run(g, &call) != KK_OK)
        raise_call(g, &call);
    kke_log_flush(&g->head.log);
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
    int rc = group_run(g, &call);
    RB_GC_GUARD(topic);
    if (rc != KK_OK)
        raise_call(g, &call);
    kke_log_flush(&g->head.log);
    return call.offset >= 0 ? LL2NUM(call.offset) : Qnil;
}

/* [[topic, partition], ...] sorted; [] once closed */
static VALUE group_claimed(VALUE self) {
    kke_group_t *g = get_group(self);
    if (!g->group || g->head.busy)
        return rb_ary_new();
    size_t n = kk_group_claimed(g->group, NULL, 0);
    VALUE list = rb_ary_new_capa((long)n);
    if (n == 0)
        return list;
    VALUE buf;
    kk_topic_partition_t *parts = ALLOCV_N(kk_topic_partition_t, buf, n); /* GC-owned: may raise */
    n = kk_group_claimed(g->group, parts, n);
    for (size_t i = 0; i < n; i++)
        rb_ary_push(list, rb_assoc_new(topic_string(g, parts[i].topic), INT2NUM(parts[i].partition)));
    ALLOCV_END(buf);
    return list;
}

static VALUE group_generation(VALUE self) {
    kke_group_t *g = get_group(self);
    return INT2NUM(g->group && !g->head.busy ? kk_group_generation(g->group) : -1);
}

static VALUE group_member_id(VALUE self) {
    kke_group_t *g = get_group(self);
    return g->group && !g->head.busy ? rb_utf8_str_new_cstr(kk_group_member_id(g->group)) : rb_utf8_str_new_cstr("");
}

static VALUE group_leader_p(VALUE self) {
    kke_group_t *g = get_group(self);
    return g->group && !g->head.busy && kk_group_is_leader(g->group) ? Qtrue : Qfalse;
}

/* Drains the rebalance events: [[:assign | :revoke, [[topic, partition], ...]], ...]. */
static VALUE group_take_events(VALUE self) {
    kke_group_t *g = get_group(self);
    VALUE list = rb_ary_new_capa((long)g->event_count);
    for (size_t i = 0; i < g->event_count; i++) {
        const group_event_t *ev = &g->events[i];
        VALUE parts = rb_ary_new_capa((long)ev->count);
        for (size_t j = 0; j < ev->count; j++)
            rb_ary_push(parts, rb_assoc_new(topic_string(g, ev->topics[j]), INT2NUM(ev->partitions[j])));
        rb_ary_push(list, rb_assoc_new(ID2SYM(rb_intern(ev->assign ? "assign" : "revoke")), parts));
    }
    bool dropped = g->events_dropped;
    g->events_dropped = false;
    events_clear(g); /* after the conversion: a raise above leaves the queue intact */
    if (dropped)
        rb_ary_push(list, rb_assoc_new(ID2SYM(rb_intern("dropped")), rb_ary_new()));
    return list;
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
    kke_log_flush(&g->head.log);
    if (call.rc != KK_OK && call.rc != KK_ERR_INTERRUPTED)
        kke_raise(call.err.code ? call.err.code : call.rc, call.err.message);
    return Qnil;
}

/* { topic => [error_code, partition_count] } through a Metadata request on the group's client. */
static VALUE group_partition_counts(VALUE self, VALUE topics) {
    return kke_partition_counts(&get_group(self)->head, topics);
}

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
    rb_define_private_method(c, "_take_events", group_take_events, 0);
    rb_define_private_method(c, "_partition_counts", group_partition_counts, 1);
    rb_define_private_method(c, "_close", group_close, 0);
    rb_define_method(c, "generation", group_generation, 0);
    rb_define_method(c, "member_id", group_member_id, 0);
    rb_define_method(c, "leader?", group_leader_p, 0);
    rb_define_method(c, "closed?", group_closed_p, 0);
}
