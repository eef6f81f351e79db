/*
 * Entry point of the extension and the helpers the classes share: buffered log lines,
 * GVL-free calls that Ruby can interrupt, error conversion, argument checks.
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

static ID id_build, id_emit_log_lines, id_at_logger;

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
    VALUE logger = rb_ivar_get(kke_mKafkette, id_at_logger);
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
        rb_funcall(kke_mKafkette, id_emit_log_lines, 1, lines);
}

void kke_log_free(kke_log_t *log) {
    free(log->buf);
    log->buf = NULL;
    log->len = log->cap = log->dropped = 0;
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

/* ---- errors ---------------------------------------------------------------------------------- */

VALUE kke_error_new(int code, const char *message) {
    return rb_funcall(kke_mErrors, id_build, 2, INT2NUM(code), rb_utf8_str_new_cstr(message));
}

void kke_raise(int code, const char *message) {
    char copy[KK_ERROR_MESSAGE_SIZE];
    snprintf(copy, sizeof(copy), "%s", message);
    rb_exc_raise(kke_error_new(code, copy));
}

/* ---- argument helpers ------------------------------------------------------------------------ */

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

static VALUE opt_get(VALUE hash, const char *name) {
    if (NIL_P(hash))
        return Qnil;
    Check_Type(hash, T_HASH);
    return rb_hash_lookup2(hash, ID2SYM(rb_intern(name)), Qnil);
}

long long kke_opt_int(VALUE hash, const char *name, long long fallback, long long min, long long max) {
    VALUE v = opt_get(hash, name);
    return NIL_P(v) ? fallback : kke_int_in_range(v, min, max, name);
}

const char *kke_cstr_arg(VALUE v, const char *what) {
    if (!RB_TYPE_P(v, T_STRING))
        rb_raise(NIL_P(v) ? rb_eArgError : rb_eTypeError, "%s must be a String, not %s", what, rb_obj_classname(v));
    if (memchr(RSTRING_PTR(v), 0, (size_t)RSTRING_LEN(v)))
        rb_raise(rb_eArgError, "%s must not contain NUL bytes", what);
    return StringValueCStr(v);
}

const char *kke_opt_cstr(VALUE hash, const char *name) {
    VALUE v = opt_get(hash, name);
    if (NIL_P(v))
        return NULL;
    if (!RB_TYPE_P(v, T_STRING))
        rb_raise(rb_eTypeError, "%s must be a String, not %s", name, rb_obj_classname(v));
    if (memchr(RSTRING_PTR(v), 0, (size_t)RSTRING_LEN(v)))
        rb_raise(rb_eArgError, "%s must not contain NUL bytes", name);
    return StringValueCStr(v);
}

bool kke_opt_bool(VALUE hash, const char *name, bool fallback) {
    VALUE v = opt_get(hash, name);
    return NIL_P(v) ? fallback : RTEST(v);
}

static int api_version_entry(VALUE key, VALUE value, VALUE arg) {
    kk_client_config_t *cfg = (kk_client_config_t *)arg;
    long long api = kke_int_in_range(key, 0, KK_API__COUNT - 1, "max_api_versions key");
    cfg->max_api_version[api] = (int16_t)kke_int_in_range(value, -1, INT16_MAX, "max_api_versions value");
    return ST_CONTINUE;
}

void kke_opt_api_versions(VALUE hash, kk_client_config_t *cfg) {
    VALUE v = opt_get(hash, "max_api_versions");
    if (NIL_P(v))
        return;
    Check_Type(v, T_HASH);
    rb_hash_foreach(v, api_version_entry, (VALUE)cfg);
}

/* ---- object state ---------------------------------------------------------------------------- */

void kke_enter(kke_head_t *h) {
    if (h->closed || h->close_pending || !h->client)
        rb_raise(rb_path2class(h->closed_class), "the %s is closed", h->what);
    if (h->busy)
        rb_raise(rb_eThreadError, "the %s is in use by another call; use one object per thread", h->what);
    h->busy = true;
}

bool kke_leave(kke_head_t *h) {
    h->busy = false;
    if (!h->close_pending)
        return false;
    h->close_pending = false;
    h->closed = true;
    h->release(h);
    h->client = NULL;
    return true;
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
            rb_jump_tag(state);
        }
    }
    if (kke_leave(h) && *rc == KK_ERR_INTERRUPTED)
        rb_raise(rb_path2class(h->closed_class), "the %s was closed during the call", h->what);
    return *rc;
}

size_t kke_head_memsize(const kke_head_t *h) { return h->log.cap; }

/* ---- module functions ------------------------------------------------------------------------ */

/* [[code, "NAME", "description", retriable], ...] for every broker error code the core knows. */
static VALUE native_broker_codes(VALUE self) {
    (void)self;
    const int16_t *codes = NULL;
    size_t n = kk_err_broker_code_list(&codes);
    VALUE list = rb_ary_new_capa((long)n);
    for (size_t i = 0; i < n; i++) {
        int code = codes[i];
        VALUE entry = rb_ary_new_from_args(4, INT2NUM(code), rb_str_new_cstr(kk_err_name(code)),
                                           rb_str_new_cstr(kk_err_description(code)),
                                           kk_err_is_retriable(code) ? Qtrue : Qfalse);
        rb_ary_push(list, entry);
    }
    return list;
}

static VALUE native_error_name(VALUE self, VALUE code) {
    (void)self;
    return rb_str_new_cstr(kk_err_name(NUM2INT(code)));
}

static VALUE native_error_description(VALUE self, VALUE code) {
    (void)self;
    return rb_str_new_cstr(kk_err_description(NUM2INT(code)));
}

static VALUE native_retriable_p(VALUE self, VALUE code) {
    (void)self;
    return kk_err_is_retriable(NUM2INT(code)) ? Qtrue : Qfalse;
}

RUBY_FUNC_EXPORTED void Init_kafkette_ext(void) {
    kke_mKafkette = rb_define_module("Kafkette");
    kke_mErrors = rb_define_module_under(kke_mKafkette, "Errors");
    kke_cMessageToSend = rb_define_class_under(kke_mKafkette, "MessageToSend", rb_cObject);
    kke_cFetchedMessage = rb_define_class_under(kke_mKafkette, "FetchedMessage", rb_cObject);
    rb_gc_register_mark_object(kke_cMessageToSend);
    rb_gc_register_mark_object(kke_cFetchedMessage);

    kke_id_failed_messages = rb_intern("@failed_messages");
    id_build = rb_intern("build");
    id_emit_log_lines = rb_intern("emit_log_lines");
    id_at_logger = rb_intern("@logger");

    VALUE native = rb_define_module_under(kke_mKafkette, "Native");
    rb_define_module_function(native, "broker_codes", native_broker_codes, 0);
    rb_define_module_function(native, "error_name", native_error_name, 1);
    rb_define_module_function(native, "error_description", native_error_description, 1);
    rb_define_module_function(native, "retriable?", native_retriable_p, 1);
    rb_define_const(native, "CORE_VERSION", rb_str_freeze(rb_str_new_cstr(KK_VERSION_STRING)));

#define KKE_CONST(name) rb_define_const(native, #name, INT2NUM(KK_##name))
    KKE_CONST(ERR_UNKNOWN_SERVER_ERROR);
    KKE_CONST(ERR_TIMED_OUT);
    KKE_CONST(ERR_CONNECTION_REFUSED);
    KKE_CONST(ERR_RESOLVE);
    KKE_CONST(ERR_CONNECTION_CLOSED);
    KKE_CONST(ERR_IO);
    KKE_CONST(ERR_MALFORMED);
    KKE_CONST(ERR_CORRELATION);
    KKE_CONST(ERR_RESPONSE_TOO_LARGE);
    KKE_CONST(ERR_INTERRUPTED);
    KKE_CONST(ERR_NO_MEMORY);
    KKE_CONST(ERR_INVALID_ARG);
    KKE_CONST(ERR_UNSUPPORTED_VERSION);
    KKE_CONST(ERR_NO_BROKERS);
    KKE_CONST(ERR_NOT_CONNECTED);
    KKE_CONST(ERR_CRC);
    KKE_CONST(ERR_COMPRESSION);
    KKE_CONST(ERR_UNKNOWN_BROKER);
    KKE_CONST(ERR_STATE);
    KKE_CONST(ERR_INVALID_PARTITION);
    KKE_CONST(ERR_PARTIAL_FAILURE);
    KKE_CONST(ERR_NOT_ASSIGNED);
    KKE_CONST(CODEC_NONE);
    KKE_CONST(CODEC_GZIP);
    KKE_CONST(CODEC_SNAPPY);
    KKE_CONST(CODEC_LZ4);
    KKE_CONST(CODEC_ZSTD);
    KKE_CONST(PARTITIONER_MURMUR2);
    KKE_CONST(PARTITIONER_CRC32);
    KKE_CONST(OFFSET_AT);
    KKE_CONST(OFFSET_EARLIEST);
    KKE_CONST(OFFSET_LATEST);
    KKE_CONST(OFFSET_FROM_LATEST);
    KKE_CONST(OFFSET_AT_TIME);
    KKE_CONST(RESET_EARLIEST);
    KKE_CONST(RESET_LATEST);
    KKE_CONST(RESET_ERROR);
    KKE_CONST(API_PRODUCE);
    KKE_CONST(API_FETCH);
    KKE_CONST(API_LIST_OFFSETS);
    KKE_CONST(API_METADATA);
#undef KKE_CONST

    kke_init_messages();
    kke_init_producer();
    kke_init_consumer();
    kke_init_client();
    kke_init_group();
}
