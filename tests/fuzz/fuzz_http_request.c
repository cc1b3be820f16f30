/* The HTTP request head reader the worker, the aggregator and the control plane serve with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t head = dr_http_head_length((const char *)data, size);
    size_t with_newline;
    dr_http_request_line_valid((const char *)data, dr_http_line_length((const char *)data, size, &with_newline));
    if (head == 0)
        return 0;
    char *copy = malloc(head + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, head);
    dr_http_request req;
    if (dr_http_parse_head(copy, head, &req) == 0 && (strlen(req.method) == 0 || req.path[0] != '/'))
        abort(); /* a request it accepts has a method and an absolute path */
    free(copy);
    return 0;
}
