/*
 * What the extension's classes share: buffered log lines, GVL-free calls that Ruby can
 * interrupt, error conversion, options passed to the core's kk_config_t, the per-object lock
 * and callbacks from the core back into Ruby.
 */
#include "kafkette_ext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

VALUE kke_mKafkette;
VALUE kke_mErrors;
VALUE kke_cMessageToSend;
VALUE kke_cFetchedMessage;
ID kke_id_failed_messages;
ID kke_id_call;

/* ---- log lines ----------------------------------------------------------------------------- */

/* Past this much buffered text, lines are counted instead of kept. */
#define KKE_LOG_CAP (256 * 1024)

void kke_log_cb(void *opaque, kk_log_level_t level, const char *message) {
    kke_log_t *log = opaque;
    size_t n = strlen(message);
    size_t need = log->len + n + 2;
    if (need > KKE_LOG_CAP) {
        log->dropped++;
        return;
    }
    if (need > log->cap) {
        size_t cap = log->cap ? log->cap : 1024;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(log->buf, cap); /* plain realloc: no Ruby without the GVL */
        if (!grown) {
            log->dropped++;
            return;
        }
        log->buf = grown;
        log->cap = cap;
    }
    log->buf[log->len] = (char)level;
    memcpy(log->buf + log->len + 1, message, n + 1);
    log->len += n + 2;
}

/* Logger's severities: DEBUG 0, INFO 1, WARN 2, ERROR 3. */
static int logger_severity(int level) {
    switch (level) {
    case KK_LOG_ERROR: return 3;
    case KK_LOG_WARNING: return 2;
    case KK_LOG_INFO: return 1;
    default: return 0;
    }
}

void kke_log_flush(kke_log_t *log) {
    if (log->len == 0 && log->dropped == 0)
        return;
    VALUE logger = rb_ivar_get(kke_mKafkette, rb_intern("@logger"));
    VALUE lines = Qnil;
    if (!NIL_P(logger)) {
        lines = rb_ary_new();
        size_t at = 0;
        while (at < log->len) {
            int level = (unsigned char)log->buf[at];
            const char *text = log->buf + at + 1;
            size_t n = strlen(text);
            rb_ary_push(lines, rb_assoc_new(INT2FIX(logger_severity(level)), rb_utf8_str_new(text, (long)n)));
            at += n + 2;
        }
        if (log->dropped) {
            char note[96];
            snprintf(note, sizeof(note), "%zu more log line(s) dropped", log->dropped);
            rb_ary_push(lines, rb_assoc_new(INT2FIX(2), rb_utf8_str_new_cstr(note)));
        }
    }
    log->len = 0;
    log->dropped = 0;
    if (log->cap > 64 * 1024) { /* a burst: give the memory back */
        free(log->buf);
        log->buf = NULL;
        log->cap = 0;
    }
    if (!NIL_P(lines))
        rb_funcall(kke_mKafkette, rb_intern("emit_log_lines"), 1, lines);
}

void kke_log_free(kke_log_t *log) {
    free(log->buf);
    log->buf = NULL;
    log->len = log->cap = log->dropped = 0;
}

/* ---- errors ---------------------------------------------------------------------------------- */

VALUE kke_error_new(int code, const char *message) {
    return rb_funcall(kke_mErrors, rb_intern("build"), 2, INT2NUM(code), rb_utf8_str_new_cstr(message));
}

void kke_raise(int code, const char *message) {
    char copy[KK_ERROR_MESSAGE_SIZE];
    snprintf(copy, sizeof(copy), "%s", message);
    rb_exc_raise(kke_error_new(code, copy));
}

static NORETURN(void raise_config(const kk_error_t *err));
static void raise_config(const kk_error_t *err) { kke_raise(err->code, err->message); }

/* ---- arguments ------------------------------------------------------------------------------- */

long long kke_int_in_range(VALUE v, long long min, long long max, const char *what) {
    if (!RB_INTEGER_TYPE_P(v))
        rb_raise(rb_eTypeError, "%s must be an Integer, not %s", what, rb_obj_classname(v));
    if (!FIXNUM_P(v))
        rb_raise(rb_eArgError, "%s is out of range (%lld..%lld)", what, min, max);
    long long n = FIX2LONG(v);
    if (n < min || n > max)
        rb_raise(rb_eArgError, "%s must be in %lld..%lld, not %lld", what, min, max, n);
    return n;
}

const char *kke_cstr_arg(VALUE v, const char *what) {
    if (!RB_TYPE_P(v, T_STRING))
        rb_raise(NIL_P(v) ? rb_eArgError : rb_eTypeError, "%s must be a String, not %s", what, rb_obj_classname(v));
    if (memchr(RSTRING_PTR(v), 0, (size_t)RSTRING_LEN(v)))
        rb_raise(rb_eArgError, "%s must not contain NUL bytes", what);
    return StringValueCStr(v);
}

/* ---- options --------------------------------------------------------------------------------- */

static void config_free(void *ptr) { kk_config_free(ptr); }

static const rb_data_type_t config_type = {
    .wrap_struct_name = "kafkette config",
    .function = {.dmark = NULL, .dfree = config_free, .dsize = NULL},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

VALUE kke_config_new(kk_config_kind_t kind, kk_config_t **out) {
    VALUE holder = TypedData_Wrap_Struct(0, &config_type, NULL);
    *out = kk_config_new(kind);
    if (!*out)
        rb_raise(rb_eNoMemError, "out of memory");
    DATA_PTR(holder) = *out;
    return holder;
}

void kke_config_done(VALUE holder) {
    kk_config_free(DATA_PTR(holder));
    DATA_PTR(holder) = NULL;
}

/* Strings and Symbols as text; NULL (and *type set) for anything else or a String with NUL. */
static const char *text_of(VALUE v, const char **type) {
    if (SYMBOL_P(v))
        v = rb_sym2str(v);
    if (RB_TYPE_P(v, T_STRING) && !memchr(RSTRING_PTR(v), 0, (size_t)RSTRING_LEN(v)))
        return StringValueCStr(v);
    *type = RB_TYPE_P(v, T_STRING) ? "String holding a NUL byte" : rb_obj_classname(v);
    return NULL;
}

typedef struct map_fill {
    int64_t *keys, *values;
    long n;
    VALUE bad; /* the first key or value that is not an Integer */
} map_fill_t;

static int map_entry(VALUE key, VALUE value, VALUE arg) {
    map_fill_t *m = (map_fill_t *)arg;
    if (!FIXNUM_P(key) || !FIXNUM_P(value)) {
        m->bad = FIXNUM_P(key) ? value : key;
        return ST_STOP;
    }
    m->keys[m->n] = FIX2LONG(key);
    m->values[m->n++] = FIX2LONG(value);
    return ST_CONTINUE;
}

/* "Array holding an Integer" (kk_config_reject_type puts "a"/"an" in front). */
static const char *holding(char *buf, size_t size, const char *outer, VALUE inner) {
    const char *t = NIL_P(inner) ? "nil" : rb_obj_classname(inner);
    snprintf(buf, size, "%s holding %s %s", outer, strchr("AEIOU", t[0]) ? "an" : "a", t);
    return buf;
}

void kke_config_set(kk_config_t *cfg, const char *name, VALUE v, VALUE callbacks) {
    kk_error_t err;
    int rc = KK_OK;
    const char *type = NULL;
    char buf[96];
    const kk_option_info_t *info = kk_option_find(kk_config_kind(cfg), name);
    bool callable = !NIL_P(v) && !SYMBOL_P(v) && !RB_TYPE_P(v, T_STRING) && rb_respond_to(v, kke_id_call);
    if (info && !NIL_P(callbacks) &&
        (info->type == KK_OPTION_CALLBACK ? callable || NIL_P(v) : callable && strcmp(name, "partitioner") == 0)) {
        rb_hash_aset(callbacks, rb_str_new_cstr(name), v);
        if (info->type != KK_OPTION_CALLBACK)
            rc = kk_config_set_default(cfg, name, &err);
    } else if (info && info->type == KK_OPTION_CALLBACK && !NIL_P(v)) {
        type = rb_obj_classname(v);
    } else if (NIL_P(v)) {
        rc = kk_config_set_default(cfg, name, &err);
    } else if (v == Qtrue || v == Qfalse) {
        rc = kk_config_set_bool(cfg, name, v == Qtrue, &err);
    } else if (FIXNUM_P(v)) {
        rc = kk_config_set_int(cfg, name, FIX2LONG(v), &err);
    } else if (RB_TYPE_P(v, T_BIGNUM)) { /* past int64: the core says it is out of range */
        VALUE text = rb_big2str(v, 10);
        rc = kk_config_set(cfg, name, StringValueCStr(text), &err);
    } else if (RB_TYPE_P(v, T_ARRAY)) {
        long n = RARRAY_LEN(v);
        VALUE items_buf = 0;
        const char **items = ALLOCV_N(const char *, items_buf, n ? n : 1);
        for (long i = 0; i < n && !type; i++)
            if (!(items[i] = text_of(RARRAY_AREF(v, i), &type)))
                type = holding(buf, sizeof(buf), "Array", RARRAY_AREF(v, i));
        rc = type ? KK_OK : kk_config_set_list(cfg, name, items, (size_t)n, &err);
        ALLOCV_END(items_buf);
    } else if (RB_TYPE_P(v, T_HASH)) {
        long n = (long)RHASH_SIZE(v);
        VALUE keys_buf = 0;
        int64_t *keys = ALLOCV_N(int64_t, keys_buf, 2 * (n ? n : 1));
        map_fill_t m = {keys, keys + n, 0, Qundef};
        rb_hash_foreach(v, map_entry, (VALUE)&m);
        if (m.bad != Qundef)
            type = holding(buf, sizeof(buf), "Hash", m.bad);
        else
            rc = kk_config_set_map(cfg, name, m.keys, m.values, (size_t)m.n, &err);
        ALLOCV_END(keys_buf);
    } else {
        const char *text = text_of(v, &type);
        if (text)
            rc = kk_config_set(cfg, name, text, &err);
    }
    if (type)
        rc = kk_config_reject_type(cfg, name, type, &err);
    RB_GC_GUARD(v);
    if (rc != KK_OK)
        raise_config(&err);
}

typedef struct apply {
    kk_config_t *cfg;
    VALUE callbacks;
} apply_t;

static int apply_entry(VALUE key, VALUE value, VALUE arg) {
    apply_t *a = (apply_t *)arg;
    VALUE name = SYMBOL_P(key) ? rb_sym2str(key) : key;
    if (!RB_TYPE_P(name, T_STRING) || memchr(RSTRING_PTR(name), 0, (size_t)RSTRING_LEN(name))) {
        char message[128];
        snprintf(message, sizeof(message), "option names are Symbols or Strings, not %s", rb_obj_classname(key));
        kke_raise(KK_ERR_INVALID_ARG, message);
    }
    kke_config_set(a->cfg, StringValueCStr(name), value, a->callbacks);
    return ST_CONTINUE;
}

void kke_config_apply(kk_config_t *cfg, VALUE opts, VALUE callbacks) {
    if (NIL_P(opts))
        return;
    if (!RB_TYPE_P(opts, T_HASH))
        rb_raise(rb_eTypeError, "options must be a Hash, not %s", rb_obj_classname(opts));
    apply_t a = {cfg, callbacks};
    rb_hash_foreach(opts, apply_entry, (VALUE)&a);
}

/* ---- sasl_oauth_token_provider ----------------------------------------------------------------
 * The core calls a token provider only on the thread of the call that needs a token (a group's
 * heartbeat thread borrows the tokens that thread obtained), so kke_oauth_cb runs where the GVL
 * was released for that call and takes it back through kke_callback(). The provider returns a
 * String, or [String, expiry] with expiry a Time, seconds since the epoch or nil. A
 * StandardError it raises becomes Kafkette::Errors::AuthenticationError (its cause the
 * provider's error), which the call raises; the token never enters a message. */
typedef struct oauth_args {
    kke_head_t *h;
    char *token;
    size_t size;
    int64_t expires_at_ms;
} oauth_args_t;

static VALUE oauth_call(VALUE arg) {
    oauth_args_t *a = (oauth_args_t *)arg;
    VALUE result = rb_funcall(a->h->oauth_provider, kke_id_call, 0);
    VALUE text = result, expiry = Qnil;
    if (RB_TYPE_P(result, T_ARRAY) && RARRAY_LEN(result) == 2) {
        text = RARRAY_AREF(result, 0);
        expiry = RARRAY_AREF(result, 1);
    }
    if (!RB_TYPE_P(text, T_STRING))
        rb_raise(rb_eTypeError, "sasl_oauth_token_provider must return a String or [String, expiry], not %s",
                 rb_obj_classname(result));
    long len = RSTRING_LEN(text);
    if (len == 0 || (size_t)len >= a->size || memchr(RSTRING_PTR(text), 0, (size_t)len))
        rb_raise(rb_eArgError,
                 "sasl_oauth_token_provider must return a token of 1 to %zu bytes without NUL (got %ld bytes)",
                 a->size - 1, len);
    if (!NIL_P(expiry)) {
        if (!rb_obj_is_kind_of(expiry, rb_cNumeric) && !rb_obj_is_kind_of(expiry, rb_cTime))
            rb_raise(rb_eTypeError,
                     "sasl_oauth_token_provider's expiry must be a Time, seconds since the epoch or nil, not %s",
                     rb_obj_classname(expiry));
        double seconds = NUM2DBL(rb_funcall(expiry, rb_intern("to_f"), 0));
        a->expires_at_ms = seconds > 0 && seconds < 9.2e15 ? (int64_t)(seconds * 1000.0) : 0;
    }
    memcpy(a->token, RSTRING_PTR(text), (size_t)len);
    a->token[len] = '\0';
    RB_GC_GUARD(result);
    return Qnil;
}

static VALUE oauth_rescue(VALUE arg, VALUE error) {
    (void)arg;
    char message[300];
    snprintf(message, sizeof(message),
             "SASL OAUTHBEARER authentication failed: the sasl_oauth_token_provider raised %s",
             rb_obj_classname(error));
    rb_exc_raise(kke_error_new(KK_ERR_AUTHENTICATION, message)); /* $! becomes its cause */
    return Qnil;
}

static VALUE oauth_with_gvl(VALUE arg) {
    return rb_rescue2(oauth_call, arg, oauth_rescue, arg, rb_eStandardError, (VALUE)0);
}

static int kke_oauth_cb(void *opaque, char *token, size_t size, int64_t *expires_at_ms, kk_error_t *err) {
    kke_head_t *h = opaque;
    /* only inside one of the object's calls, on a Ruby thread that released the GVL for it */
    if (!h->busy || !ruby_native_thread_p() || NIL_P(h->oauth_provider)) {
        snprintf(err->message, sizeof(err->message),
                 "the sasl_oauth_token_provider is only called during a call on the object");
        return err->code = KK_ERR_AUTHENTICATION;
    }
    oauth_args_t a = {h, token, size, 0};
    token[0] = '\0';
    if (kke_callback(h, oauth_with_gvl, (VALUE)&a) == Qundef || token[0] == '\0') {
        snprintf(err->message, sizeof(err->message), "the sasl_oauth_token_provider failed");
        return err->code = KK_ERR_AUTHENTICATION;
    }
    *expires_at_ms = a.expires_at_ms;
    return KK_OK;
}

VALUE kke_config_setup(kke_head_t *h, kk_config_kind_t kind, VALUE brokers, VALUE client_id, VALUE opts,
                       VALUE callbacks, kk_config_t **out) {
    if (h->client || h->closed)
        rb_raise(rb_eRuntimeError, "the %s is already set up", h->what);
    VALUE holder = kke_config_new(kind, out);
    kke_config_set(*out, "bootstrap_servers", brokers, Qnil);
    if (client_id != Qundef)
        kke_config_set(*out, "client_id", client_id, Qnil);
    if (NIL_P(callbacks)) /* every kind takes a token provider */
        callbacks = rb_hash_new();
    kke_config_apply(*out, opts, callbacks);
    kk_client_config_t *cc = kk_config_client(*out);
    cc->log_cb = kke_log_cb;
    cc->log_opaque = &h->log;
    h->oauth_provider = rb_hash_lookup2(callbacks, rb_str_new_cstr("sasl_oauth_token_provider"), Qnil);
    if (!NIL_P(h->oauth_provider)) {
        cc->sasl_oauth_token_provider = kke_oauth_cb;
        cc->sasl_oauth_token_opaque = h;
    }
    return holder;
}

/* ---- blocking calls -------------------------------------------------------------------------- */

typedef struct nogvl_call {
    void *(*fn)(void *);
    void *arg;
    bool ran;
} nogvl_call_t;

static void *nogvl_trampoline(void *p) {
    nogvl_call_t *call = p;
    call->ran = true;
    return call->fn(call->arg);
}

/* Ruby calls this from another thread (or a signal handler) to stop the wait: it only sets an
 * atomic flag and writes to a pipe, both async-signal-safe. */
static void unblock_client(void *client) { kk_client_interrupt(client); }

bool kke_blocking(kk_client_t *client, void *(*fn)(void *), void *arg) {
    nogvl_call_t call = {fn, arg, false};
    /* INTR_FAIL: Ruby must not raise around the call (the caller may hold C memory); a pending
     * interrupt makes it skip fn instead, and the caller handles it after cleaning up. */
#ifdef HAVE_RB_NOGVL
    rb_nogvl(nogvl_trampoline, &call, unblock_client, client, RB_NOGVL_INTR_FAIL | RB_NOGVL_UBF_ASYNC_SAFE);
#else
    rb_thread_call_without_gvl2(nogvl_trampoline, &call, unblock_client, client);
#endif
    kk_client_clear_interrupt(client);
    return call.ran;
}

static VALUE check_ints(VALUE unused) {
    (void)unused;
    rb_thread_check_ints();
    return Qnil;
}

int kke_check_interrupt(void) {
    int state = 0;
    rb_protect(check_ints, Qnil, &state);
    return state;
}

/* ---- object state ---------------------------------------------------------------------------- */

void kke_head_init(kke_head_t *h, void (*release)(kke_head_t *), const char *closed_class, const char *what) {
    h->lock = rb_mutex_new();
    h->owner = Qnil;
    h->callback_error = Qnil;
    h->oauth_provider = Qnil;
    h->release = release;
    h->closed_class = closed_class;
    h->what = what;
}

void kke_head_mark(const kke_head_t *h) {
    rb_gc_mark(h->lock);
    rb_gc_mark(h->owner);
    rb_gc_mark(h->callback_error);
    rb_gc_mark(h->oauth_provider);
}

size_t kke_head_memsize(const kke_head_t *h) { return h->log.cap; }

bool kke_reentered(const kke_head_t *h) { return h->busy && h->owner == rb_fiber_current(); }

static NORETURN(void raise_closed(const kke_head_t *h, const char *how));
static void raise_closed(const kke_head_t *h, const char *how) {
    rb_raise(rb_path2class(h->closed_class), "the %s %s", h->what, how);
}

void kke_enter(kke_head_t *h) {
    if (kke_reentered(h))
        rb_raise(rb_eRuntimeError, "the %s was called from inside one of its own calls (a callback)", h->what);
    if (h->closed || h->close_pending || !h->client)
        raise_closed(h, "is closed");
    rb_mutex_lock(h->lock); /* waits, the GVL released, while another thread's call runs */
    if (h->closed || h->close_pending || !h->client) {
        rb_mutex_unlock(h->lock);
        raise_closed(h, "was closed while this call waited for another");
    }
    h->busy = true;
    h->owner = rb_fiber_current();
}

bool kke_leave(kke_head_t *h) {
    bool released = false;
    if (h->close_pending) {
        if (h->leaving)
            h->leaving(h);
        h->close_pending = false;
        h->closed = true;
        h->release(h);
        h->client = NULL;
        released = true;
    }
    h->busy = false;
    h->owner = Qnil;
    rb_mutex_unlock(h->lock);
    return released;
}

void kke_close(kke_head_t *h) {
    if (h->closed)
        return;
    if (h->busy) {
        h->close_pending = true;
        kk_client_interrupt(h->client);
        return;
    }
    h->closed = true;
    if (h->client) {
        h->release(h);
        h->client = NULL;
    }
}

int kke_run(kke_head_t *h, void *(*fn)(void *), void *arg, int *rc) {
    for (;;) {
        if (!kke_blocking(h->client, fn, arg))
            *rc = KK_ERR_INTERRUPTED;
        if (*rc != KK_ERR_INTERRUPTED || h->close_pending)
            break;
        int state = kke_check_interrupt();
        if (state) {
            kke_leave(h);
            h->callback_error = Qnil;
            rb_jump_tag(state);
        }
    }
    if (kke_leave(h) && *rc == KK_ERR_INTERRUPTED) {
        h->callback_error = Qnil;
        raise_closed(h, "was closed during the call");
    }
    return *rc;
}

typedef struct callback_call {
    kke_head_t *h;
    VALUE (*fn)(VALUE);
    VALUE arg;
    VALUE result;
} callback_call_t;

static void keep_error(kke_head_t *h) {
    VALUE e = rb_errinfo();
    rb_set_errinfo(Qnil);
    if (!NIL_P(h->callback_error))
        return;
    if (SPECIAL_CONST_P(e) || BUILTIN_TYPE(e) != T_OBJECT || !rb_obj_is_kind_of(e, rb_eException))
        e = rb_exc_new_cstr(rb_eRuntimeError, "a callback jumped out of a core call (throw or break)");
    h->callback_error = e;
}

static void *callback_with_gvl(void *p) {
    callback_call_t *c = p;
    kke_head_t *h = c->h;
    if (!NIL_P(h->callback_error))
        return NULL; /* an earlier callback of this call raised: do not run more Ruby code */
    int state = 0;
    h->in_callback = true;
    VALUE result = rb_protect(c->fn, c->arg, &state);
    h->in_callback = false;
    if (state)
        keep_error(h);
    else
        c->result = result;
    /* Ruby acts on pending interrupts when it gives the GVL up again, which would unwind
     * through the core: take them here, where they can be kept. */
    rb_protect(check_ints, Qnil, &state);
    if (state)
        keep_error(h);
    return NULL;
}

VALUE kke_callback(kke_head_t *h, VALUE (*fn)(VALUE), VALUE arg) {
    callback_call_t c = {h, fn, arg, Qundef};
    rb_thread_call_with_gvl(callback_with_gvl, &c);
    return c.result;
}

void kke_raise_callback_error(kke_head_t *h) {
    VALUE e = h->callback_error;
    h->callback_error = Qnil;
    if (!NIL_P(e))
        rb_exc_raise(e);
}

/* ---- partition counts (Client#partition_counts, ConsumerGroup#partitions) -------------------- */

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
        kke_raise_callback_error(h); /* a token provider's */
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

/* ---- stats (Producer#stats, PartitionConsumer#stats, ConsumerGroup#stats) -------------------- */

typedef struct stats_call {
    kke_head_t *h;
    const kk_stats_t *s;
} stats_call_t;

static VALUE offset_or_nil(int64_t v) { return v >= 0 ? LL2NUM(v) : Qnil; }

static VALUE stats_hash(VALUE arg) {
    const kk_stats_t *s = ((stats_call_t *)arg)->s;
    VALUE d = rb_hash_new();
#define COUNTER(f) rb_hash_aset(d, ID2SYM(rb_intern(#f)), ULL2NUM(s->f));
    COUNTER(messages_sent) COUNTER(bytes_sent) COUNTER(messages_received) COUNTER(bytes_received)
    COUNTER(requests) COUNTER(request_bytes) COUNTER(response_bytes) COUNTER(retries) COUNTER(errors)
    COUNTER(reconnects) COUNTER(in_flight_requests) COUNTER(queued_bytes) COUNTER(partitions_total)
#undef COUNTER
    VALUE errors = rb_hash_new(), brokers = rb_hash_new(), parts = rb_ary_new();
    for (size_t i = 0; i < s->error_code_count; i++)
        rb_hash_aset(errors, rb_str_new_cstr(kk_err_name(s->errors_by_code[i].code)),
                     ULL2NUM(s->errors_by_code[i].count));
    for (size_t i = 0; i < s->broker_count; i++) {
        const kk_broker_stats_t *b = &s->brokers[i];
        VALUE row = rb_hash_new();
        rb_hash_aset(row, ID2SYM(rb_intern("requests")), ULL2NUM(b->requests));
        rb_hash_aset(row, ID2SYM(rb_intern("rtt_p50_ms")), DBL2NUM(b->rtt_p50_us / 1000.0));
        rb_hash_aset(row, ID2SYM(rb_intern("rtt_p99_ms")), DBL2NUM(b->rtt_p99_us / 1000.0));
        rb_hash_aset(brokers, rb_str_new_cstr(b->name), row);
    }
    for (size_t i = 0; i < s->partition_count; i++) {
        const kk_partition_stats_t *p = &s->partitions[i];
        VALUE row = rb_hash_new();
        rb_hash_aset(row, ID2SYM(rb_intern("topic")), rb_utf8_str_new_cstr(p->topic));
        rb_hash_aset(row, ID2SYM(rb_intern("partition")), INT2NUM(p->partition));
        rb_hash_aset(row, ID2SYM(rb_intern("position")), offset_or_nil(p->position));
        rb_hash_aset(row, ID2SYM(rb_intern("high_watermark")), offset_or_nil(p->high_watermark));
        rb_hash_aset(row, ID2SYM(rb_intern("lag")), offset_or_nil(p->lag));
        rb_ary_push(parts, row);
    }
    rb_hash_aset(d, ID2SYM(rb_intern("errors_by_code")), errors);
    rb_hash_aset(d, ID2SYM(rb_intern("brokers")), brokers);
    rb_hash_aset(d, ID2SYM(rb_intern("partitions")), parts);
    return d;
}

static VALUE stats_leave(VALUE arg) {
    kke_leave(((stats_call_t *)arg)->h);
    return Qnil;
}

VALUE kke_stats(kke_head_t *h, void (*fill)(kke_head_t *h, kk_stats_t *out)) {
    VALUE buf = 0;
    kk_stats_t *s = ALLOCV(buf, sizeof(kk_stats_t)); /* GC-owned: nothing leaks if Ruby raises */
    kke_enter(h);
    fill(h, s); /* reads counters and positions: never waits */
    stats_call_t call = {h, s};
    /* topics point into the core object: the Hash is built before another call may move them */
    VALUE d = rb_ensure(stats_hash, (VALUE)&call, stats_leave, (VALUE)&call);
    ALLOCV_END(buf);
    return d;
}
