/*
 * kk_config_t: fills the typed config structs from option names and values, checked against the
 * option table (config_table.c). Bindings pass their keyword options through here and check
 * nothing themselves, so the messages for a bad option are the same in every language;
 * kk_*_new() check a struct filled by hand against the same entries (kk_config_check).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define OPTION_COUNT kk_option_count()

/* One bit per table entry for kk_config_is_set. */
#define SET_WORDS ((KK_CONFIG_MAX_OPTIONS + 63) / 64)

/* A string the config owns. */
typedef struct owned {
    struct owned *next;
    char text[];
} owned_t;

struct kk_config {
    kk_config_kind_t kind;
    union {
        kk_client_config_t client;
        kk_producer_config_t producer;
        kk_consumer_config_t consumer;
        kk_group_config_t group;
    } typed, defaults;
    owned_t *strings;        /* every string and list the typed struct points to */
    uint64_t set[SET_WORDS]; /* entries set since kk_config_new */
};

/* ---- messages --------------------------------------------------------------------------- */

/* Levenshtein distance, capped: enough to suggest a near spelling. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

static int unknown_option(kk_config_kind_t kind, const char *name, kk_error_t *err) {
    const char *closest = NULL;
    size_t best = 3; /* suggest only spellings within two edits */
    for (size_t i = 0; name && i < OPTION_COUNT; i++) {
        if (!(kk_config_option(i)->info.kinds & kind))
            continue;
        size_t d = edit_distance(name, kk_config_option(i)->info.name);
        if (d < best) {
            best = d;
            closest = kk_config_option(i)->info.name;
        }
    }
    if (closest)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "unknown option '%s' for a %s (did you mean '%s'?)", name ? name : "",
                            kk_config_kind_name(kind), closest);
    return kk_error_set(err, KK_ERR_INVALID_ARG, "unknown option '%s' for a %s", name ? name : "",
                        kk_config_kind_name(kind));
}

/* "an integer from 0 to 2147483647", "one of 'none', 'gzip', ...": what the option takes. */
static void describe_allowed(const option_t *o, char *buf, size_t size) {
    const kk_option_info_t *in = &o->info;
    size_t n = 0;
#define APPEND(...)                                                      \
    do {                                                                 \
        int w = snprintf(buf + n, n < size ? size - n : 0, __VA_ARGS__); \
        if (w > 0)                                                       \
            n += (size_t)w;                                              \
        if (n >= size)                                                   \
            n = size - 1;                                                \
    } while (0)
    switch (in->type) {
    case KK_OPTION_INT:
        APPEND("an integer from %" PRId64 " to %" PRId64, in->min, in->max);
        for (size_t i = 0; in->names && in->names[i]; i++)
            APPEND(" or '%s'", in->names[i]);
        break;
    case KK_OPTION_BOOL:
        APPEND("true or false");
        break;
    case KK_OPTION_STRING:
        APPEND("a string of %" PRId64 " to %" PRId64 " bytes", in->min, in->max);
        break;
    case KK_OPTION_ENUM:
        APPEND("one of");
        for (size_t i = 0; in->names[i]; i++)
            APPEND("%s '%s'", i ? "," : "", in->names[i]);
        break;
    case KK_OPTION_LIST:
        APPEND("a list of strings of %" PRId64 " to %" PRId64 " bytes", in->min, in->max);
        break;
    case KK_OPTION_MAP:
        APPEND("a map of API keys to versions from %" PRId64 " to %" PRId64, in->min, in->max);
        break;
    case KK_OPTION_CALLBACK:
        APPEND("a callable");
        break;
    }
#undef APPEND
}

/* "option 'max_bytes' takes an integer from 1 to 2147483647, not 0" */
static int refuse(const option_t *o, kk_error_t *err, const char *fmt, ...) KK_PRINTF(3, 4);
static int refuse(const option_t *o, kk_error_t *err, const char *fmt, ...) {
    char allowed[256], got[192];
    describe_allowed(o, allowed, sizeof(allowed));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(got, sizeof(got), fmt, ap);
    va_end(ap);
    return kk_error_set(err, KK_ERR_INVALID_ARG, "option '%s' takes %s, not %s", o->info.name,
                        allowed, got);
}

/* ---- the config object ------------------------------------------------------------------ */

kk_config_t *kk_config_new(kk_config_kind_t kind) {
    if (kind != KK_CONFIG_CLIENT && kind != KK_CONFIG_PRODUCER && kind != KK_CONFIG_CONSUMER &&
        kind != KK_CONFIG_GROUP)
        return NULL;
    kk_config_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->kind = kind;
    kk_config_defaults(kind, &c->typed);
    kk_config_defaults(kind, &c->defaults);
    return c;
}

void kk_config_free(kk_config_t *config) {
    if (!config)
        return;
    owned_t *s = config->strings;
    while (s) {
        owned_t *next = s->next;
        free(s);
        s = next;
    }
    free(config);
}

kk_config_kind_t kk_config_kind(const kk_config_t *config) { return config->kind; }

kk_client_config_t *kk_config_client(kk_config_t *config) {
    return config ? &config->typed.client : NULL;
}

kk_producer_config_t *kk_config_producer(kk_config_t *config) {
    return config && config->kind == KK_CONFIG_PRODUCER ? &config->typed.producer : NULL;
}

kk_consumer_config_t *kk_config_consumer(kk_config_t *config) {
    return config && config->kind == KK_CONFIG_CONSUMER ? &config->typed.consumer : NULL;
}

kk_group_config_t *kk_config_group(kk_config_t *config) {
    return config && config->kind == KK_CONFIG_GROUP ? &config->typed.group : NULL;
}

/* A block of `size` bytes owned by the config until it is freed. */
static void *own(kk_config_t *c, size_t size) {
    owned_t *s = malloc(sizeof(*s) + size);
    if (!s)
        return NULL;
    s->next = c->strings;
    c->strings = s;
    return s->text;
}

static char *field(kk_config_t *c, const option_t *o) { return (char *)&c->typed + o->offset; }

static void mark_set(kk_config_t *c, const option_t *o) {
    const option_t *canonical =
        o->info.alias_of ? kk_config_find_option(c->kind, o->info.alias_of) : o;
    size_t index = kk_config_option_index(canonical);
    c->set[index / 64] |= UINT64_C(1) << (index % 64);
}

bool kk_config_is_set(const kk_config_t *config, const char *name) {
    const option_t *o = config ? kk_config_find_option(config->kind, name) : NULL;
    if (!o)
        return false;
    if (o->info.alias_of)
        o = kk_config_find_option(config->kind, o->info.alias_of);
    size_t index = kk_config_option_index(o);
    return (config->set[index / 64] >> (index % 64)) & 1;
}

static void put_int(char *at, storage_t storage, int64_t v) {
    switch (storage) {
    case STORE_INT:
    case STORE_ENUM: {
        int x = (int)v;
        memcpy(at, &x, sizeof(x));
        break;
    }
    case STORE_I16: {
        int16_t x = (int16_t)v;
        memcpy(at, &x, sizeof(x));
        break;
    }
    case STORE_I32: {
        int32_t x = (int32_t)v;
        memcpy(at, &x, sizeof(x));
        break;
    }
    default:
        break;
    }
}

static void store_int(kk_config_t *c, const option_t *o, int64_t v) {
    put_int(field(c, o), o->storage, v);
}

static int64_t load_int(const char *at, storage_t storage) {
    switch (storage) {
    case STORE_I16: {
        int16_t x;
        memcpy(&x, at, sizeof(x));
        return x;
    }
    case STORE_I32: {
        int32_t x;
        memcpy(&x, at, sizeof(x));
        return x;
    }
    default: {
        int x;
        memcpy(&x, at, sizeof(x));
        return x;
    }
    }
}

/* The index of name among names (any case), or -1. */
static int name_index(const char *const *names, const char *name) {
    for (int i = 0; names && names[i]; i++)
        if (strcasecmp(names[i], name) == 0)
            return i;
    return -1;
}

static int set_int_checked(kk_config_t *c, const option_t *o, int64_t v, kk_error_t *err) {
    if (v < o->info.min || v > o->info.max)
        return refuse(o, err, "%" PRId64, v);
    store_int(c, o, v);
    mark_set(c, o);
    return KK_OK;
}

static int set_choice(kk_config_t *c, const option_t *o, const char *name, kk_error_t *err) {
    int i = name_index(o->info.names, name);
    if (i < 0)
        return refuse(o, err, "'%s'", name);
    if (o->storage == STORE_ENUM_NAME) {
        memcpy(field(c, o), &o->info.names[i], sizeof(const char *));
    } else {
        store_int(c, o, o->values[i]);
    }
    mark_set(c, o);
    return KK_OK;
}

static int set_string(kk_config_t *c, const option_t *o, const char *value, kk_error_t *err) {
    size_t n = strlen(value);
    if ((int64_t)n < o->info.min || (int64_t)n > o->info.max)
        return refuse(o, err, "a string of %zu bytes", n);
    char *copy = own(c, n + 1);
    if (!copy)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    memcpy(copy, value, n + 1);
    memcpy(field(c, o), &copy, sizeof(copy));
    mark_set(c, o);
    return KK_OK;
}

static int set_bool(kk_config_t *c, const option_t *o, bool v) {
    if (o->storage == STORE_TRAIL) {
        kk_offset_reset_t reset = v ? KK_RESET_LATEST : KK_RESET_EARLIEST;
        memcpy(field(c, o), &reset, sizeof(reset));
    } else {
        memcpy(field(c, o), &v, sizeof(v));
    }
    mark_set(c, o);
    return KK_OK;
}

static int set_list(kk_config_t *c, const option_t *o, const char *const *items, size_t count,
                    kk_error_t *err) {
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        if (!items[i])
            return refuse(o, err, "a list holding a null at %zu", i);
        size_t n = strlen(items[i]);
        if ((int64_t)n < o->info.min || (int64_t)n > o->info.max)
            return refuse(o, err, "a list holding '%.64s' (%zu bytes)", items[i], n);
        bytes += n + 1;
    }
    if (o->storage == STORE_JOINED) {
        if (count == 0)
            return refuse(o, err, "an empty list");
        char *joined = own(c, bytes);
        if (!joined)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            size_t n = strlen(items[i]);
            memcpy(joined + at, items[i], n);
            at += n;
            joined[at++] = i + 1 < count ? ',' : '\0';
        }
        memcpy(field(c, o), &joined, sizeof(joined));
    } else {
        /* the array of pointers, then the strings, in one owned block */
        char *block = own(c, (count + 1) * sizeof(char *) + bytes);
        if (!block)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        const char **array = (const char **)(void *)block;
        char *text = block + (count + 1) * sizeof(char *);
        for (size_t i = 0; i < count; i++) {
            size_t n = strlen(items[i]) + 1;
            memcpy(text, items[i], n);
            array[i] = text;
            text += n;
        }
        array[count] = NULL;
        const char *const *list = count ? array : NULL;
        memcpy(field(c, o), &list, sizeof(list));
        memcpy((char *)&c->typed + o->count_offset, &count, sizeof(count));
    }
    mark_set(c, o);
    return KK_OK;
}

static int set_map(kk_config_t *c, const option_t *o, const int64_t *keys, const int64_t *values,
                   size_t count, kk_error_t *err) {
    int16_t caps[KK_API__COUNT];
    for (int i = 0; i < KK_API__COUNT; i++)
        caps[i] = -1;
    for (size_t i = 0; i < count; i++) {
        if (keys[i] < 0 || keys[i] >= KK_API__COUNT)
            return refuse(o, err, "API key %" PRId64 " (known keys: 0 to %d)", keys[i],
                          KK_API__COUNT - 1);
        if (values[i] < o->info.min || values[i] > o->info.max)
            return refuse(o, err, "version %" PRId64 " for API key %" PRId64, values[i], keys[i]);
        caps[keys[i]] = (int16_t)values[i];
    }
    memcpy(field(c, o), caps, sizeof(caps));
    mark_set(c, o);
    return KK_OK;
}

/* Parses a whole decimal integer (surrounding blanks allowed). */
static bool parse_int(const char *text, int64_t *out) {
    while (isspace((unsigned char)*text))
        text++;
    if (!*text)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return false;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *text, bool *out) {
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", NULL};
    if (name_index(yes, text) >= 0)
        *out = true;
    else if (name_index(no, text) >= 0)
        *out = false;
    else
        return false;
    return true;
}

/* Splits "a,b , c" on commas into trimmed items, calls set_list. */
static int set_list_text(kk_config_t *c, const option_t *o, const char *text, kk_error_t *err) {
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    const char **items = calloc(n / 2 + 2, sizeof(*items));
    if (!copy || !items) {
        free(copy);
        free(items);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(copy, text, n + 1);
    size_t count = 0;
    char *p = copy;
    while (*p) {
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        char *start = p;
        while (start < end && isspace((unsigned char)*start))
            start++;
        char *stop = end;
        while (stop > start && isspace((unsigned char)stop[-1]))
            stop--;
        bool last = !comma;
        *stop = '\0';
        if (start < stop)
            items[count++] = start;
        if (last)
            break;
        p = comma + 1;
    }
    int rc = set_list(c, o, items, count, err);
    free(items);
    free(copy);
    return rc;
}

/* "3=1, 1=4" */
static int set_map_text(kk_config_t *c, const option_t *o, const char *text, kk_error_t *err) {
    int64_t keys[KK_API__COUNT * 2], values[KK_API__COUNT * 2];
    size_t count = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char entry[64];
        if (len >= sizeof(entry) || count == COUNT(keys))
            return refuse(o, err, "'%s'", text);
        memcpy(entry, p, len);
        entry[len] = '\0';
        char *eq = strchr(entry, '=');
        bool blank = strspn(entry, " \t") == len;
        if (!blank) {
            if (!eq)
                return refuse(o, err, "'%s'", text);
            *eq = '\0';
            if (!parse_int(entry, &keys[count]) || !parse_int(eq + 1, &values[count]))
                return refuse(o, err, "'%s'", text);
            count++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return set_map(c, o, keys, values, count, err);
}

static int config_find(const kk_config_t *config, const char *name, const option_t **out,
                       kk_error_t *err) {
    if (!config)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the config is NULL");
    *out = kk_config_find_option(config->kind, name);
    if (!*out)
        return unknown_option(config->kind, name, err);
    if ((*out)->info.type == KK_OPTION_CALLBACK)
        return refuse(*out, err, "a value (set callbacks through the binding or the typed config)");
    return KK_OK;
}

int kk_config_set(kk_config_t *config, const char *name, const char *value, kk_error_t *err) {
    const option_t *o = NULL;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (!value)
        return kk_config_set_default(config, name, err);
    switch (o->info.type) {
    case KK_OPTION_INT: {
        int64_t v;
        int named = name_index(o->info.names, value);
        if (named >= 0)
            return set_int_checked(config, o, o->values[named], err);
        if (!parse_int(value, &v))
            return refuse(o, err, "'%.64s'", value);
        return set_int_checked(config, o, v, err);
    }
    case KK_OPTION_BOOL: {
        bool b;
        if (!parse_bool(value, &b))
            return refuse(o, err, "'%.64s'", value);
        return set_bool(config, o, b);
    }
    case KK_OPTION_ENUM:
        return set_choice(config, o, value, err);
    case KK_OPTION_STRING:
        return set_string(config, o, value, err);
    case KK_OPTION_LIST:
        return set_list_text(config, o, value, err);
    case KK_OPTION_MAP:
        return set_map_text(config, o, value, err);
    case KK_OPTION_CALLBACK:
        break;
    }
    return refuse(o, err, "'%.64s'", value);
}

/* A typed setter given a value of another type: "..., not an integer (5)". */
static int wrong_type(const option_t *o, const char *what, kk_error_t *err) {
    return refuse(o, err, "%s", what);
}

int kk_config_set_int(kk_config_t *config, const char *name, int64_t value, kk_error_t *err) {
    const option_t *o = NULL;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_INT) {
        char what[48];
        if (o->info.secret) /* the value may be the secret itself */
            snprintf(what, sizeof(what), "an integer");
        else
            snprintf(what, sizeof(what), "an integer (%" PRId64 ")", value);
        return wrong_type(o, what, err);
    }
    return set_int_checked(config, o, value, err);
}

int kk_config_set_bool(kk_config_t *config, const char *name, bool value, kk_error_t *err) {
    const option_t *o = NULL;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_BOOL)
        return wrong_type(o, o->info.secret ? "a boolean" : value ? "true" : "false", err);
    return set_bool(config, o, value);
}

int kk_config_set_list(kk_config_t *config, const char *name, const char *const *items,
                       size_t count, kk_error_t *err) {
    const option_t *o = NULL;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_LIST)
        return wrong_type(o, "a list", err);
    return set_list(config, o, items, count, err);
}

int kk_config_set_map(kk_config_t *config, const char *name, const int64_t *keys,
                      const int64_t *values, size_t count, kk_error_t *err) {
    const option_t *o = NULL;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    if (o->info.type != KK_OPTION_MAP)
        return wrong_type(o, "a map", err);
    return set_map(config, o, keys, values, count, err);
}

static size_t storage_size(const option_t *o) {
    switch (o->storage) {
    case STORE_I16:
        return sizeof(int16_t);
    case STORE_I32:
        return sizeof(int32_t);
    case STORE_INT:
    case STORE_ENUM:
    case STORE_TRAIL:
        return sizeof(int);
    case STORE_BOOL:
        return sizeof(bool);
    case STORE_ENUM_NAME:
    case STORE_STRING:
    case STORE_JOINED:
    case STORE_STRING_LIST:
        return sizeof(const char *);
    case STORE_API_CAPS:
        return sizeof(((kk_client_config_t *)0)->max_api_version);
    case STORE_CALLBACK:
        break;
    }
    return 0;
}

int kk_config_set_default(kk_config_t *config, const char *name, kk_error_t *err) {
    const option_t *o = NULL;
    int rc = config_find(config, name, &o, err);
    if (rc != KK_OK)
        return rc;
    size_t n = storage_size(o);
    memcpy(field(config, o), (const char *)&config->defaults + o->offset, n);
    if (o->storage == STORE_STRING_LIST)
        memcpy((char *)&config->typed + o->count_offset,
               (const char *)&config->defaults + o->count_offset, sizeof(size_t));
    return KK_OK;
}

int kk_config_reject_type(const kk_config_t *config, const char *name, const char *type_name,
                          kk_error_t *err) {
    if (!config)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the config is NULL");
    const option_t *o = kk_config_find_option(config->kind, name);
    if (!o)
        return unknown_option(config->kind, name, err);
    char what[96];
    const char *t = type_name ? type_name : "value";
    bool vowel = strchr("aeiouAEIOU", t[0]) != NULL;
    snprintf(what, sizeof(what), "%s %s", vowel ? "an" : "a", t);
    return wrong_type(o, what, err);
}

/* Writes the value of o held at `at` (a typed struct's bytes) as text. */
static int format_value(const option_t *o, const char *base, char *buf, size_t size) {
    const char *at = base + o->offset;
    switch (o->storage) {
    case STORE_INT:
    case STORE_I16:
    case STORE_I32: {
        int64_t v = load_int(at, o->storage);
        for (size_t i = 0; o->info.names && o->info.names[i]; i++)
            if (o->values[i] == v)
                return snprintf(buf, size, "%s", o->info.names[i]);
        return snprintf(buf, size, "%" PRId64, v);
    }
    case STORE_ENUM:
    case STORE_TRAIL: {
        int64_t v = load_int(at, STORE_INT);
        if (o->storage == STORE_TRAIL)
            return snprintf(buf, size, "%s", v == KK_RESET_LATEST ? "true" : "false");
        for (size_t i = 0; o->info.names[i]; i++)
            if (o->values[i] == v)
                return snprintf(buf, size, "%s", o->info.names[i]);
        return snprintf(buf, size, "%" PRId64, v);
    }
    case STORE_BOOL: {
        bool b;
        memcpy(&b, at, sizeof(b));
        return snprintf(buf, size, "%s", b ? "true" : "false");
    }
    case STORE_ENUM_NAME:
    case STORE_STRING:
    case STORE_JOINED: {
        const char *s;
        memcpy(&s, at, sizeof(s));
        return snprintf(buf, size, "%s", s ? s : o->info.default_value);
    }
    case STORE_STRING_LIST: {
        const char *const *list;
        size_t count;
        memcpy(&list, at, sizeof(list));
        memcpy(&count, base + o->count_offset, sizeof(count));
        int n = 0;
        if (size > 0)
            buf[0] = '\0';
        for (size_t i = 0; list && i < count; i++) {
            int w = snprintf(buf + (size_t)n, (size_t)n < size ? size - (size_t)n : 0, "%s%s",
                             i ? "," : "", list[i]);
            n += w > 0 ? w : 0;
        }
        return n;
    }
    case STORE_API_CAPS: {
        int16_t caps[KK_API__COUNT];
        memcpy(caps, at, sizeof(caps));
        int n = 0;
        if (size > 0)
            buf[0] = '\0';
        for (int k = 0; k < KK_API__COUNT; k++) {
            if (caps[k] < 0)
                continue;
            int w = snprintf(buf + (size_t)n, (size_t)n < size ? size - (size_t)n : 0, "%s%d=%d",
                             n ? "," : "", k, caps[k]);
            n += w > 0 ? w : 0;
        }
        return n;
    }
    case STORE_CALLBACK:
        break;
    }
    return -1;
}

int kk_config_get(const kk_config_t *config, const char *name, char *buf, size_t size) {
    const option_t *o = config ? kk_config_find_option(config->kind, name) : NULL;
    if (!o || o->info.type == KK_OPTION_CALLBACK)
        return -1;
    if (o->info.secret) {
        const char *s;
        memcpy(&s, (const char *)&config->typed + o->offset, sizeof(s));
        return snprintf(buf, size, "%s", s && s[0] ? "***" : "");
    }
    return format_value(o, (const char *)&config->typed, buf, size);
}

/* ---- defaults ------------------------------------------------------------------------------ */

static bool parse_int(const char *text, int64_t *out);
static bool parse_bool(const char *text, bool *out);

/* Writes an entry's default (the table's text) into a typed struct. Strings and lists default to
 * NULL: the objects read NULL as the documented default. */
static void apply_default(const option_t *o, char *base) {
    char *at = base + o->offset;
    const char *text = o->info.default_value;
    int named = name_index(o->info.names, text);
    int64_t v = 0;
    bool b = false;
    switch (o->storage) {
    case STORE_INT:
    case STORE_I16:
    case STORE_I32:
        if (named >= 0)
            put_int(at, o->storage, o->values[named]);
        else if (parse_int(text, &v))
            put_int(at, o->storage, v);
        break;
    case STORE_ENUM:
        if (named >= 0)
            put_int(at, STORE_ENUM, o->values[named]);
        break;
    case STORE_ENUM_NAME:
        if (named >= 0)
            memcpy(at, &o->info.names[named], sizeof(const char *));
        break;
    case STORE_BOOL:
        if (parse_bool(text, &b))
            memcpy(at, &b, sizeof(b));
        break;
    case STORE_API_CAPS: {
        int16_t none[KK_API__COUNT];
        for (int k = 0; k < KK_API__COUNT; k++)
            none[k] = -1;
        memcpy(at, none, sizeof(none));
        break;
    }
    default:
        break;
    }
}

void kk_config_defaults(kk_config_kind_t kind, void *typed) {
    size_t size = kind == KK_CONFIG_PRODUCER   ? sizeof(kk_producer_config_t)
                  : kind == KK_CONFIG_CONSUMER ? sizeof(kk_consumer_config_t)
                  : kind == KK_CONFIG_GROUP    ? sizeof(kk_group_config_t)
                                               : sizeof(kk_client_config_t);
    memset(typed, 0, size);
    for (size_t i = 0; i < kk_option_count(); i++) {
        const option_t *o = kk_config_option(i);
        if ((o->info.kinds & kind) && !o->info.alias_of)
            apply_default(o, typed);
    }
    /* not an option: the consumer's starting offset is a constructor argument */
    if (kind == KK_CONFIG_CONSUMER)
        ((kk_consumer_config_t *)typed)->offset = (kk_offset_spec_t){KK_OFFSET_EARLIEST, 0};
}

/* ---- checking a typed struct --------------------------------------------------------------- */

static int check_one(const option_t *o, const char *base, kk_error_t *err) {
    const char *at = base + o->offset;
    switch (o->storage) {
    case STORE_INT:
    case STORE_I16:
    case STORE_I32: {
        int64_t v = load_int(at, o->storage);
        if (v < o->info.min || v > o->info.max)
            return refuse(o, err, "%" PRId64, v);
        return KK_OK;
    }
    case STORE_ENUM: {
        int64_t v = load_int(at, STORE_INT);
        for (size_t i = 0; o->info.names[i]; i++)
            if (o->values[i] == v)
                return KK_OK;
        /* a callback partitioner is chosen on the struct, with its function */
        if (o->offset == offsetof(kk_producer_config_t, partitioner) &&
            v == KK_PARTITIONER_CALLBACK)
            return KK_OK;
        return refuse(o, err, "%" PRId64, v);
    }
    case STORE_ENUM_NAME: {
        const char *s;
        memcpy(&s, at, sizeof(s));
        if (s && name_index(o->info.names, s) < 0)
            return refuse(o, err, "'%.64s'", s);
        return KK_OK;
    }
    case STORE_STRING:
    case STORE_JOINED: {
        const char *s;
        memcpy(&s, at, sizeof(s));
        if (!s) {
            if (o->info.min > 0)
                return refuse(o, err, "nothing (it is required)");
            return KK_OK;
        }
        size_t n = strlen(s);
        if ((int64_t)n < (o->storage == STORE_JOINED ? 1 : o->info.min) ||
            (int64_t)n > (o->storage == STORE_JOINED ? INT16_MAX : o->info.max))
            return refuse(o, err, "a string of %zu bytes", n);
        return KK_OK;
    }
    case STORE_STRING_LIST: {
        const char *const *list;
        size_t count;
        memcpy(&list, at, sizeof(list));
        memcpy(&count, base + o->count_offset, sizeof(count));
        for (size_t i = 0; i < count; i++) {
            if (!list || !list[i])
                return refuse(o, err, "a list holding a null at %zu", i);
            size_t n = strlen(list[i]);
            if ((int64_t)n < o->info.min || (int64_t)n > o->info.max)
                return refuse(o, err, "a list holding '%.64s' (%zu bytes)", list[i], n);
        }
        return KK_OK;
    }
    case STORE_API_CAPS: {
        int16_t caps[KK_API__COUNT];
        memcpy(caps, at, sizeof(caps));
        for (int k = 0; k < KK_API__COUNT; k++)
            if (caps[k] < o->info.min)
                return refuse(o, err, "version %d for API key %d", caps[k], k);
        return KK_OK;
    }
    case STORE_BOOL:
    case STORE_TRAIL:
    case STORE_CALLBACK:
        break;
    }
    return KK_OK;
}

int kk_config_check(kk_config_kind_t kind, const void *typed, kk_error_t *err) {
    if (!typed)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "the %s config is NULL",
                            kk_config_kind_name(kind));
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_t *o = kk_config_option(i);
        if (!(o->info.kinds & kind) || o->info.alias_of)
            continue;
        int rc = check_one(o, typed, err);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}
