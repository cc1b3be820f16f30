/*
 * The settings parser: the input is a config file (name = value lines),
 * and its first line, split on spaces, is also the command line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const dr_setting table[] = {
    DR_COMMON_SETTINGS,
    {"brokers", DR_SETTING_STRING, "localhost:9092", "bootstrap servers"},
    {"concurrency", DR_SETTING_INT, "4", "jobs at once"},
    {"allow-unsigned", DR_SETTING_BOOL, "false", "run unsigned jobs"},
    {"kafka-property", DR_SETTING_LIST, NULL, "KEY=VALUE"},
};
static char path[] = "/tmp/drover-fuzz-config-XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    /* argv: --config PATH, then the first line's words. */
    char line[256];
    size_t n = 0;
    while (n < size && n < sizeof line - 1 && data[n] != '\n')
        n++;
    memcpy(line, data, n);
    line[n] = '\0';
    char *argv[34] = {"--config", path};
    int argc = 2;
    char *save = NULL;
    for (char *w = strtok_r(line, " ", &save); w && argc < 33; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    dr_config *cfg = dr_config_new(table, sizeof table / sizeof table[0]);
    if (cfg && dr_config_load(cfg, argc, argv, NULL) == DR_OK) {
        char *const *items;
        dr_config_string(cfg, "brokers");
        dr_config_int(cfg, "concurrency");
        dr_config_bool(cfg, "allow-unsigned");
        dr_config_list(cfg, "kafka-property", &items);
        dr_config_positional(cfg, &items);
    }
    dr_config_free(cfg);
    return 0;
}
