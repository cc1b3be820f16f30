/*
 * The bash completion built from settings tables, and what program.h gives
 * it: a command's table described without running the command, the one
 * table of exit codes, and the refusal of a stray argument.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "completion.h"
#include "program.h"

static const dr_setting build_settings[] = {
    DR_COMMON_SETTINGS,
    {"name", DR_SETTING_STRING, NULL, "package name"},
    {"dry-run", DR_SETTING_BOOL, "false", "change nothing"},
};
static const dr_setting list_settings[] = {
    DR_COMMON_SETTINGS,
    {"output", DR_SETTING_STRING, "table", "-o: table, wide or json"},
};
static const dr_setting show_settings[] = {
    DR_COMMON_SETTINGS,
    {"output", DR_SETTING_STRING, "table", "-o: table or json"},
};

static int ran_past_start;

/* A command as every command starts: its settings first. */
static int cmd_list(int argc, char **argv)
{
    int exit_code = DR_EXIT_FAILED;
    dr_config *cfg = dr_program_start("drover-test list", list_settings, sizeof list_settings / sizeof list_settings[0],
                                      argc, argv, "usage: drover-test list", &exit_code);
    if (!cfg)
        return exit_code;
    ran_past_start = 1;
    dr_config_free(cfg);
    return DR_EXIT_OK;
}

static int cmd_without_start(int argc, char **argv)
{
    (void)argc, (void)argv;
    return DR_EXIT_OK;
}

static void a_command_is_described_without_running_it(void)
{
    dr_program_description d;
    CHECK_INT(0, dr_program_describe(cmd_list, &d));
    CHECK(d.settings == list_settings);
    CHECK_INT(sizeof list_settings / sizeof list_settings[0], d.setting_count);
    CHECK_STR("usage: drover-test list", d.usage);
    CHECK_INT(0, ran_past_start);
    /* A command that does not start with dr_program_start is a bug the describer reports. */
    CHECK_INT(-1, dr_program_describe(cmd_without_start, &d));
    /* After describing, a command starts for real again. */
    char *argv[] = {"-o", "json", NULL};
    CHECK_INT(DR_EXIT_OK, cmd_list(2, argv));
    CHECK_INT(1, ran_past_start);
}

static void a_stray_argument_is_refused_as_a_bad_flag_is(void)
{
    char *argv[] = {"stray", NULL};
    int exit_code = -1;
    ran_past_start = 0;
    CHECK_INT(DR_EXIT_USAGE, cmd_list(1, argv));
    CHECK_INT(0, ran_past_start);
    /* A command that takes one argument takes one, and refuses a second. */
    char *two[] = {"one", "two", NULL};
    dr_config *cfg = dr_program_start_args("drover-test show", show_settings, 3, 1, 1, two, "usage: x", &exit_code);
    CHECK(cfg != NULL);
    dr_config_free(cfg);
    cfg = dr_program_start_args("drover-test show", show_settings, 3, 1, 2, two, "usage: x", &exit_code);
    CHECK(cfg == NULL);
    CHECK_INT(DR_EXIT_USAGE, exit_code);
    cfg = dr_program_start_args("drover-test keys", show_settings, 3, DR_PROGRAM_ANY_ARGUMENTS, 2, two, "usage: x",
                                &exit_code);
    CHECK(cfg != NULL);
    dr_config_free(cfg);
}

static void every_exit_code_has_one_meaning(void)
{
    CHECK_STR("ok", dr_exit_code_name(DR_EXIT_OK));
    CHECK_STR("failed", dr_exit_code_name(DR_EXIT_FAILED));
    CHECK_STR("rejected (nothing ran)", dr_exit_code_name(DR_EXIT_REJECTED));
    CHECK_STR("timed out", dr_exit_code_name(DR_EXIT_TIMED_OUT));
    CHECK_STR("stopped waiting (the work goes on)", dr_exit_code_name(DR_EXIT_STOPPED_WAITING));
    CHECK(dr_exit_code_name(6) == NULL);
    CHECK(dr_exit_code_name(DR_EXIT_TEST_ABORT) == NULL); /* testing only: not in --help's table */
}

static char *script_of(const dr_completion_verb *verbs, size_t count)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_completion_bash("drover-test", verbs, count, &sb);
    return dr_strbuf_detach(&sb, NULL);
}

static void the_script_names_every_command_verb_flag_and_value(void)
{
    const dr_completion_verb verbs[] = {
        {"package build", build_settings, sizeof build_settings / sizeof build_settings[0]},
        {"package list", list_settings, sizeof list_settings / sizeof list_settings[0]},
        {"show", show_settings, sizeof show_settings / sizeof show_settings[0]},
    };
    char *script = script_of(verbs, 3);
    CHECK_CONTAINS("_drover_test() {", script);
    CHECK_CONTAINS("complete -o default -F _drover_test drover-test\n", script);
    /* Commands once each, then the verbs of one. */
    CHECK_CONTAINS("words='package show completion'", script);
    CHECK_CONTAINS("    package)\n        if (( COMP_CWORD == 2 )); then\n            words='build list --help'",
                   script);
    /* A verb's flags, a boolean's --no- form, which flags take a value, and the formats of -o. */
    CHECK_CONTAINS(
        "    'package build')\n        flags='--config --log-level --name --dry-run --no-dry-run --help'\n"
        "        valued=' --config --log-level --name '\n        output=''",
        script);
    CHECK_CONTAINS("valued=' --config --log-level --output -o '\n        output='table wide json'", script);
    CHECK_CONTAINS("    'show')\n", script);
    CHECK_CONTAINS("valued=' --config --log-level --output -o '\n        output='table json'", script);
    CHECK_CONTAINS("--log-level) words='debug info warn error' ;;", script);
    free(script);

    /* A program without verbs: its flags right after its name. */
    const dr_completion_verb self = {"", build_settings, sizeof build_settings / sizeof build_settings[0]};
    script = script_of(&self, 1);
    CHECK_CONTAINS("if (( COMP_CWORD == 1 )) && [[ $cur != -* ]]; then\n        words='completion'", script);
    CHECK_CONTAINS("    '')\n        flags='--config --log-level --name --dry-run --no-dry-run --help'", script);
    free(script);
}

static void names_that_are_not_plain_words_stay_out_of_the_script(void)
{
    static const dr_setting odd[] = {{"ok", DR_SETTING_STRING, NULL, ""},
                                     {"x'; rm -rf /", DR_SETTING_STRING, NULL, ""}};
    const dr_completion_verb verbs[] = {{"fine", odd, 2}, {"bad'verb", odd, 2}};
    char *script = script_of(verbs, 2);
    CHECK_CONTAINS("flags='--ok --help'", script);
    CHECK(!strstr(script, "rm -rf"));
    CHECK(!strstr(script, "bad'verb"));
    free(script);
}

static void choices_are_known_for_the_settings_that_have_a_few(void)
{
    CHECK_STR("install uninstall", dr_completion_choices(&(dr_setting){"action", DR_SETTING_STRING, NULL, ""}));
    CHECK_STR("reinstall in-place",
              dr_completion_choices(&(dr_setting){"installation-type", DR_SETTING_STRING, NULL, ""}));
    CHECK(dr_completion_choices(&(dr_setting){"name", DR_SETTING_STRING, NULL, ""}) == NULL);
}

int main(void)
{
    a_command_is_described_without_running_it();
    a_stray_argument_is_refused_as_a_bad_flag_is();
    every_exit_code_has_one_meaning();
    the_script_names_every_command_verb_flag_and_value();
    names_that_are_not_plain_words_stay_out_of_the_script();
    choices_are_known_for_the_settings_that_have_a_few();
    return check_done("completion");
}
