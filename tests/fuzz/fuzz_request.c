/*
 * Request verification (request_signing.h) on hostile bytes, against a
 * store holding one real operator key, so every path is reached: malformed
 * wire data, two auths, unsigned, unknown key, a signature that does not
 * verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "files.h"
#include "request_signing.h"

static dr_trust_store *store;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/drover-fuzz-request-XXXXXX";
    char key_id[DR_KEY_ID_SIZE];
    if (!mkdtemp(dir) || dr_key_generate(dir, key_id, NULL) != DR_OK || dr_trust_store_load(dir, &store, NULL) != DR_OK)
        abort();
    dr_remove_tree(dir, NULL); /* the keys are in memory now */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dr_request_origin origin;
    dr_error err = {0};
    dr_request_verify(store, data, size, &origin, &err);
    return 0;
}
