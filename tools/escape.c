/*
 * escape.c - byte strings as text: lowercase hex, and the printable form
 * of mdb_dump -p (printable ASCII as itself, backslash doubled, any other
 * byte as \xx). Encoders never emit a control byte, so their output is
 * safe on a terminal. Decoders reject malformed input with a reason;
 * they never read past the length they are given. Pure: no I/O except
 * tool_print_escaped's writes.
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char hex_digits[] = "0123456789abcdef";

int tool_buf_reserve(tool_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) {
        return 0;
    }
    if (extra > SIZE_MAX / 2 - b->len) {
        return -1;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int tool_buf_append(tool_buf *b, const void *p, size_t n)
{
    if (tool_buf_reserve(b, n) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return 0;
}

void tool_buf_free(tool_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int tool_hex_encode(tool_buf *out, const void *p, size_t n)
{
    if (n > SIZE_MAX / 2 || tool_buf_reserve(out, 2 * n) != 0) {
        return -1;
    }
    const uint8_t *s = p;
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = (uint8_t)hex_digits[s[i] >> 4];
        d[2 * i + 1] = (uint8_t)hex_digits[s[i] & 0xfu];
    }
    out->len += 2 * n;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int tool_hex_decode(tool_buf *out, const char *s, size_t n, const char **why)
{
    if (n % 2 != 0) {
        *why = "odd number of hex digits";
        return -1;
    }
    if (tool_buf_reserve(out, n / 2) != 0) {
        *why = "out of memory";
        return -1;
    }
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value(s[i]);
        int lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) {
            *why = "not a hex digit";
            return -1;
        }
        d[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    out->len += n / 2;
    return 0;
}

static int printable(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e && c != '\\';
}

int tool_print_encode(tool_buf *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        uint8_t e[3];
        size_t elen = 1;
        if (printable(s[i])) {
            e[0] = s[i];
        } else if (s[i] == '\\') {
            e[0] = '\\';
            e[1] = '\\';
            elen = 2;
        } else {
            e[0] = '\\';
            e[1] = (uint8_t)hex_digits[s[i] >> 4];
            e[2] = (uint8_t)hex_digits[s[i] & 0xfu];
            elen = 3;
        }
        if (tool_buf_append(out, e, elen) != 0) {
            return -1;
        }
    }
    return 0;
}

int tool_print_decode(tool_buf *out, const char *s, size_t n, const char **why)
{
    if (tool_buf_reserve(out, n) != 0) {
        *why = "out of memory";
        return -1;
    }
    uint8_t *d = out->data + out->len;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c != '\\') {
            if (c < 0x20 || c == 0x7f) {
                *why = "control byte in printable text";
                return -1;
            }
            d[j++] = c;
            continue;
        }
        if (n - i >= 2 && s[i + 1] == '\\') {
            d[j++] = '\\';
            i += 1;
            continue;
        }
        if (n - i < 3 || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) {
            *why = "backslash not followed by a backslash or two hex digits";
            return -1;
        }
        d[j++] = (uint8_t)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
        i += 2;
    }
    out->len += j;
    return 0;
}

int tool_print_escaped(FILE *f, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (printable(s[i])) {
            rc = putc(s[i], f);
        } else if (s[i] == '\\') {
            rc = fputs("\\\\", f);
        } else {
            rc = fprintf(f, "\\%c%c", hex_digits[s[i] >> 4], hex_digits[s[i] & 0xfu]);
        }
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}
