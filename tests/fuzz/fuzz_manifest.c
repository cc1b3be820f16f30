/* The manifest parser, and file selection on what it accepts, for a few platforms. */
#include <stdint.h>

#include "manifest.h"
#include "platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const platforms[][4] = {
        {"ubuntu", "22.04", "x86_64", "debian"},
        {"rocky", "9.3", "arm64", "rhel centos fedora"},
        {"amazon", "2023", "x86_64", "fedora"},
        {"windows", "10", "x86_64", ""},
    };
    dr_manifest *m = NULL;
    if (dr_manifest_parse((const char *)data, size, &m, NULL) != DR_OK)
        return 0;
    for (size_t i = 0; i < sizeof platforms / sizeof platforms[0]; i++) {
        dr_platform p;
        if (dr_platform_init(&p, platforms[i][0], platforms[i][1], platforms[i][2], platforms[i][3], NULL) != DR_OK)
            continue;
        dr_manifest_selection selection;
        dr_manifest_select_file(m, &p, &selection, NULL);
    }
    dr_manifest_free(m);
    return 0;
}
