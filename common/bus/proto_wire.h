/*
 * proto_wire.h - reading the protobuf wire format directly, for what a
 * decoded message cannot tell: the exact bytes a signature covers, and the
 * ids left in a message too damaged to decode.  The one walk over wire
 * data: every reader of raw fields uses dr_wire_next.
 */
#ifndef DROVER_PROTO_WIRE_H
#define DROVER_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* One field of an encoded message, as dr_wire_next read it; pointers are into the message. */
typedef struct dr_wire_field {
    uint32_t number;
    uint32_t wire_type;  /* 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit */
    uint64_t varint;     /* wire type 0: the value */
    const uint8_t *data; /* wire types 1, 2, 5: the field's payload */
    size_t len;          /* its length (8, the given length, 4) */
    size_t start, end;   /* the whole field, key included: in[start..end) */
} dr_wire_field;

/*
 * Read the field at in[*at..len) into *f and move *at past it.  Returns 1
 * for a field, 0 at the end, -1 when the data is not well-formed (a
 * truncated varint or length, a group, an unknown wire type, field 0).
 */
int dr_wire_next(const uint8_t *in, size_t len, size_t *at, dr_wire_field *f);

/*
 * Copy the top-level fields of the encoded message in[0..len) into out
 * (capacity len), leaving out every occurrence of field number field, and
 * set *out_len.  Everything else keeps its bytes and its order, unknown
 * fields included.  Returns 0, or -1 when in is not well-formed wire data
 * (a truncated varint or length, a group, an unknown wire type, field 0).
 */
int dr_wire_strip_field(const uint8_t *in, size_t len, uint32_t field, uint8_t *out, size_t *out_len);

/*
 * Append field as a length-delimited field (wire type 2) holding
 * data[0..data_len) to buf, which has room for dr_wire_bytes_field_size more.
 * Returns the bytes written.
 */
size_t dr_wire_bytes_field_size(uint32_t field, size_t data_len);
size_t dr_wire_put_bytes_field(uint8_t *buf, uint32_t field, const uint8_t *data, size_t data_len);

#endif
