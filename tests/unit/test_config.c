/* The settings table: defaults, file, environment and flags, in that order. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static const dr_setting table[] = {
    DR_COMMON_SETTINGS,
    {"cache-dir", DR_SETTING_STRING, "/var/cache/drover", "where artifacts are cached"},
    {"concurrency", DR_SETTING_INT, "4", "jobs at once"},
    {"allow-unsigned", DR_SETTING_BOOL, "false", "demo only"},
    {"arg", DR_SETTING_LIST, NULL, "KEY=VALUE"},
};
#define TABLE_SIZE (sizeof table / sizeof table[0])

static dr_config *load(int argc, char **argv, dr_error *err, dr_status *status)
{
    dr_config *cfg = dr_config_new(table, TABLE_SIZE);
    *status = dr_config_load(cfg, argc, argv, err);
    return cfg;
}

static void defaults_apply_when_nothing_is_given(void)
{
    dr_error err = {0};
    dr_status status;
    dr_config *cfg = load(0, NULL, &err, &status);
    CHECK_INT(DR_OK, status);
    CHECK_STR("/var/cache/drover", dr_config_string(cfg, "cache-dir"));
    CHECK_INT(4, dr_config_int(cfg, "concurrency"));
    CHECK_INT(0, dr_config_bool(cfg, "allow-unsigned"));
    char *const *items;
    CHECK_INT(0, dr_config_list(cfg, "arg", &items));
    dr_config_free(cfg);
}

static void flags_beat_environment_which_beats_file(void)
{
    char path[] = "/tmp/drover-config-test-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "# comment\ncache-dir = /from/file\nconcurrency = 7\narg = A=file\narg = B=file\n";
    CHECK_INT((long long)strlen(text), write(fd, text, strlen(text)));
    close(fd);
    setenv("DROVER_CONFIG", path, 1);
    setenv("DROVER_CONCURRENCY", "9", 1);
    setenv("DROVER_ARG", "C=env\nD=env", 1);
    char *argv[] = {"pos1", "--cache-dir=/from/flag", "--allow-unsigned", "pos2", "--", "--not-a-flag"};
    dr_error err = {0};
    dr_status status;
    dr_config *cfg = load(6, argv, &err, &status);
    CHECK_INT(DR_OK, status);
    CHECK_STR("/from/flag", dr_config_string(cfg, "cache-dir"));
    CHECK_INT(9, dr_config_int(cfg, "concurrency"));
    CHECK_INT(1, dr_config_bool(cfg, "allow-unsigned"));
    char *const *items;
    CHECK_INT(2, dr_config_list(cfg, "arg", &items));
    CHECK_STR("C=env", items[0]);
    CHECK_STR("D=env", items[1]);
    CHECK_INT(3, dr_config_positional(cfg, &items));
    CHECK_STR("pos1", items[0]);
    CHECK_STR("pos2", items[1]);
    CHECK_STR("--not-a-flag", items[2]);
    dr_config_free(cfg);

    unsetenv("DROVER_ARG");
    char *argv2[] = {"--arg", "X=1", "--no-allow-unsigned"};
    cfg = load(3, argv2, &err, &status);
    CHECK_INT(DR_OK, status);
    CHECK_INT(1, dr_config_list(cfg, "arg", &items));
    CHECK_STR("X=1", items[0]);
    CHECK_INT(0, dr_config_bool(cfg, "allow-unsigned"));
    CHECK_INT(9, dr_config_int(cfg, "concurrency")); /* env 9 still beats file 7 */
    dr_config_free(cfg);
    unsetenv("DROVER_CONFIG");
    unsetenv("DROVER_CONCURRENCY");
    unlink(path);
}

static void bad_input_is_named_in_the_error(void)
{
    dr_error err = {0};
    dr_status status;
    char *unknown[] = {"--no-such-thing", "1"};
    dr_config *cfg = load(2, unknown, &err, &status);
    CHECK_INT(DR_ERR_USAGE, status);
    CHECK_CONTAINS("unknown flag '--no-such-thing'", err.detail);
    dr_config_free(cfg);

    char *not_int[] = {"--concurrency", "lots"};
    cfg = load(2, not_int, &err, &status);
    CHECK_INT(DR_ERR_USAGE, status);
    CHECK_CONTAINS("concurrency from flag: 'lots' is not an integer", err.detail);
    dr_config_free(cfg);

    char *missing[] = {"--cache-dir"};
    cfg = load(1, missing, &err, &status);
    CHECK_INT(DR_ERR_USAGE, status);
    CHECK_CONTAINS("--cache-dir needs a value", err.detail);
    dr_config_free(cfg);

    setenv("DROVER_ALLOW_UNSIGNED", "perhaps", 1);
    cfg = load(0, NULL, &err, &status);
    CHECK_INT(DR_ERR_USAGE, status);
    CHECK_CONTAINS("allow-unsigned from environment: 'perhaps'", err.detail);
    dr_config_free(cfg);
    unsetenv("DROVER_ALLOW_UNSIGNED");
}

int main(void)
{
    defaults_apply_when_nothing_is_given();
    flags_beat_environment_which_beats_file();
    bad_input_is_named_in_the_error();
    return check_done("config");
}
