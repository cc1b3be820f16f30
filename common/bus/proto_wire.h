/*
 * proto_wire.h - reading the protobuf wire format directly, for what a
 * decoded message cannot tell: the exact bytes a signature covers.
 */
#ifndef DROVER_PROTO_WIRE_H
#define DROVER_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

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
