#include "proto_wire.h"

#include <string.h>

/* A varint at in[*at..len): its value, *at moved past it; -1 when truncated or longer than 10 bytes. */
static int read_varint(const uint8_t *in, size_t len, size_t *at, uint64_t *value)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*at >= len)
            return -1;
        uint8_t byte = in[(*at)++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

static size_t varint_size(uint64_t value)
{
    size_t n = 1;
    while (value >= 0x80) {
        value >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *buf, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        buf[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    buf[n++] = (uint8_t)value;
    return n;
}

int dr_wire_next(const uint8_t *in, size_t len, size_t *at, dr_wire_field *f)
{
    if (*at >= len)
        return 0;
    uint64_t key;
    f->start = *at;
    if (read_varint(in, len, at, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return -1;
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (uint32_t)(key & 7);
    f->varint = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->wire_type) {
    case 0: /* varint */
        if (read_varint(in, len, at, &f->varint) != 0)
            return -1;
        break;
    case 2: /* length-delimited */
        if (read_varint(in, len, at, &f->varint) != 0 || f->varint > len - *at)
            return -1;
        f->len = (size_t)f->varint;
        f->varint = 0;
        break;
    case 1: /* 64-bit */
        f->len = 8;
        break;
    case 5: /* 32-bit */
        f->len = 4;
        break;
    default: /* groups (3, 4) are not in proto3; 6 and 7 do not exist */
        return -1;
    }
    if (f->len > len - *at)
        return -1;
    f->data = in + *at;
    *at += f->len;
    f->end = *at;
    return 1;
}

int dr_wire_strip_field(const uint8_t *in, size_t len, uint32_t field, uint8_t *out, size_t *out_len)
{
    size_t at = 0, written = 0;
    dr_wire_field f;
    int more;
    while ((more = dr_wire_next(in, len, &at, &f)) == 1)
        if (f.number != field) {
            memcpy(out + written, in + f.start, f.end - f.start);
            written += f.end - f.start;
        }
    if (more < 0)
        return -1;
    *out_len = written;
    return 0;
}

size_t dr_wire_bytes_field_size(uint32_t field, size_t data_len)
{
    return varint_size((uint64_t)field << 3 | 2) + varint_size(data_len) + data_len;
}

size_t dr_wire_put_bytes_field(uint8_t *buf, uint32_t field, const uint8_t *data, size_t data_len)
{
    size_t n = put_varint(buf, (uint64_t)field << 3 | 2);
    n += put_varint(buf + n, data_len);
    memcpy(buf + n, data, data_len);
    return n + data_len;
}
