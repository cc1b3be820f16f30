/*
 * Every protobuf message the programs read, decoded from hostile bytes; a
 * Job also goes through the signature check (wire stripping, key lookup,
 * verification) as a worker does.  The first byte picks the message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "job_signing.h"
#include "messages.h"

static dr_trust_store *trust;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dr_trust_store_load("", &trust, NULL); /* no keys: every path up to "not trusted" */
    return 0;
}

#define DECODE(decoder, type, free_fn)                                                                                 \
    do {                                                                                                               \
        type *m = NULL;                                                                                                \
        if (decoder(data, len, &m, &err) == DR_OK)                                                                     \
            free_fn(m, NULL);                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *data = bytes + 1;
    size_t len = size - 1;
    dr_error err = {0};
    switch (bytes[0] % 10) {
    case 0: {
        Drover__V1__Job *job = NULL;
        if (dr_job_decode(data, len, &job, &err) == DR_OK) {
            dr_trust_verify_job(trust, data, len, job, &err);
            drover__v1__job__free_unpacked(job, NULL);
        }
        break;
    }
    case 1:
        DECODE(dr_status_event_decode, Drover__V1__StatusEvent, drover__v1__status_event__free_unpacked);
        break;
    case 2:
        DECODE(dr_rollup_decode, Drover__V1__Rollup, drover__v1__rollup__free_unpacked);
        break;
    case 3:
        DECODE(dr_target_decode, Drover__V1__Target, drover__v1__target__free_unpacked);
        break;
    case 4:
        DECODE(dr_target_event_decode, Drover__V1__TargetEvent, drover__v1__target_event__free_unpacked);
        break;
    case 5:
        DECODE(dr_package_versions_decode, Drover__V1__PackageVersions, drover__v1__package_versions__free_unpacked);
        break;
    case 6:
        DECODE(dr_deployment_decode, Drover__V1__Deployment, drover__v1__deployment__free_unpacked);
        break;
    case 7:
        DECODE(dr_association_decode, Drover__V1__Association, drover__v1__association__free_unpacked);
        break;
    case 8:
        DECODE(dr_cancel_decode, Drover__V1__Cancel, drover__v1__cancel__free_unpacked);
        break;
    default:
        DECODE(dr_release_decode, Drover__V1__Release, drover__v1__release__free_unpacked);
        break;
    }
    return 0;
}
