/* Message output: plain values, key/value, a format string, or JSON lines with non-UTF-8 bytes
 * in base64. */
#include "output.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int cli_output_check_format(const char *format) {
    for (const char *p = format; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (!*p || !strchr("tpokvTh%", *p))
            return -1;
    }
    return 0;
}

void cli_output_init(cli_output_t *out) { (void)out; }
void cli_output_free(cli_output_t *out) { (void)out; }
void cli_output_flush(cli_output_t *out) {
    (void)out;
    fflush(stdout);
}

static void put(const void *data, size_t len) {
    if (len)
        fwrite(data, 1, len, stdout);
}

static void put_headers(const kk_fetched_message_t *m) {
    for (size_t i = 0; i < m->header_count; i++) {
        const kk_fetched_header_t *h = &m->headers[i];
        if (i)
            putchar(',');
        put(h->key, h->key_len);
        if (h->value) {
            putchar('=');
            put(h->value, h->value_len);
        }
    }
}

static void put_format(const char *format, const char *topic, int32_t partition,
                       const kk_fetched_message_t *m) {
    for (const char *p = format; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            putchar(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p == '0' ? '\0' : *p);
            continue;
        }
        if (*p != '%' || !p[1]) {
            putchar(*p);
            continue;
        }
        switch (*++p) {
        case 't':
            fputs(topic, stdout);
            break;
        case 'p':
            printf("%" PRId32, partition);
            break;
        case 'o':
            printf("%" PRId64, m->offset);
            break;
        case 'k':
            put(m->key, m->key ? m->key_len : 0);
            break;
        case 'v':
            put(m->value, m->value ? m->value_len : 0);
            break;
        case 'T':
            printf("%" PRId64, m->timestamp);
            break;
        case 'h':
            put_headers(m);
            break;
        default:
            putchar(*p);
            break;
        }
    }
}

/* ---- JSON ------------------------------------------------------------------------------- */

static bool utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += n + 1;
    }
    return true;
}

static void json_string(const uint8_t *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '"':
            fputs("\\\"", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
}

static void base64(const uint8_t *s, size_t len) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    putchar('"');
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        putchar(table[(v >> 18) & 63]);
        putchar(table[(v >> 12) & 63]);
        putchar(i + 1 < len ? table[(v >> 6) & 63] : '=');
        putchar(i + 2 < len ? table[v & 63] : '=');
    }
    putchar('"');
}

/* "name": value, and "name_encoding": "base64" after it when the bytes are not UTF-8. */
static void json_bytes_field(const char *name, const void *data, size_t len, bool first) {
    printf("%s\"%s\":", first ? "" : ",", name);
    if (!data) {
        fputs("null", stdout);
        return;
    }
    if (utf8_valid(data, len)) {
        json_string(data, len);
    } else {
        base64(data, len);
        printf(",\"%s_encoding\":\"base64\"", name);
    }
}

static void put_json(const char *topic, int32_t partition, const kk_fetched_message_t *m) {
    fputs("{\"topic\":", stdout);
    json_string((const uint8_t *)topic, strlen(topic));
    printf(",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":%" PRId64, partition,
           m->offset, m->timestamp);
    json_bytes_field("key", m->key, m->key_len, false);
    json_bytes_field("value", m->value, m->value_len, false);
    fputs(",\"headers\":[", stdout);
    for (size_t i = 0; i < m->header_count; i++) {
        const kk_fetched_header_t *h = &m->headers[i];
        fputs(i ? ",{" : "{", stdout);
        json_bytes_field("key", h->key, h->key_len, true);
        json_bytes_field("value", h->value, h->value_len, false);
        putchar('}');
    }
    fputs("]}\n", stdout);
}

void cli_output_message(cli_output_t *out, const char *topic, int32_t partition,
                        const kk_fetched_message_t *m) {
    switch (out->mode) {
    case CLI_OUT_VALUE:
        put(m->value, m->value ? m->value_len : 0);
        putchar('\n');
        break;
    case CLI_OUT_KEY_VALUE:
        put(m->key, m->key ? m->key_len : 0);
        fputs(out->key_sep, stdout);
        put(m->value, m->value ? m->value_len : 0);
        putchar('\n');
        break;
    case CLI_OUT_FORMAT:
        put_format(out->format, topic, partition, m);
        break;
    case CLI_OUT_JSON:
        put_json(topic, partition, m);
        break;
    }
}
