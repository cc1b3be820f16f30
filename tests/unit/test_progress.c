/* The live progress line: the ETA and percentage maths, durations, and fitting the line to a width. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "progress.h"

static void the_eta_is_the_time_left_at_the_rate_so_far(void)
{
    CHECK_INT(30000, dr_progress_eta_ms(10, 40, 10000)); /* 10 jobs in 10 s: 30 left take 30 s */
    CHECK_INT(1000, dr_progress_eta_ms(300, 400, 3000));
    CHECK_INT(0, dr_progress_eta_ms(40, 40, 10000)); /* all done */
    CHECK_INT(0, dr_progress_eta_ms(41, 40, 10000)); /* the rollup counted more than expected */
    CHECK_INT(-1, dr_progress_eta_ms(0, 40, 10000)); /* no rate yet */
    CHECK_INT(-1, dr_progress_eta_ms(5, 40, 0));
    CHECK_INT(-1, dr_progress_eta_ms(0, 0, 10000)); /* nothing to do, nothing known */
    /* A long deployment of many jobs: elapsed * left would pass 2^63 in integers. */
    CHECK(dr_progress_eta_ms(1, UINT64_MAX / 2, INT64_MAX / 4) == INT64_MAX);
}

static void the_percentage_rounds_down_so_100_means_all_done(void)
{
    CHECK_INT(0, dr_progress_percent(0, 300));
    CHECK_INT(40, dr_progress_percent(120, 300));
    CHECK_INT(99, dr_progress_percent(999, 1000));
    CHECK_INT(100, dr_progress_percent(1000, 1000));
    CHECK_INT(0, dr_progress_percent(5, 0));
}

static void durations_read_as_people_say_them(void)
{
    char buf[32];
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {{-1, "-"},         {0, "0s"},          {999, "0s"},        {42000, "42s"},
                 {185000, "3m05s"}, {3600000, "1h00m"}, {7380000, "2h03m"}, {273600000, "3d04h"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dr_progress_format_duration(cases[i].ms, buf, sizeof buf);
        CHECK_STR(cases[i].text, buf);
    }
}

static char *line(const dr_progress *p, size_t width)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_progress_line(p, width, &sb);
    return dr_strbuf_detach(&sb, NULL);
}

static void a_wide_line_has_every_part(void)
{
    dr_progress p = {.done = 120, .total = 300, .elapsed_ms = 65000, .counts = "SUCCESS 118  FAILED 2"};
    char *text = line(&p, 0);
    CHECK_STR("[########............]  40%  120/300  SUCCESS 118  FAILED 2  elapsed 1m05s  ETA 1m37s", text);
    free(text);
    /* Before any rollup: no rate, no ETA yet. */
    dr_progress none = {.total = 3};
    text = line(&none, 0);
    CHECK_STR("[....................]   0%  0/3  elapsed 0s  ETA -", text);
    free(text);
    /* Done: a full bar and no ETA. */
    dr_progress done = {.done = 3, .total = 3, .elapsed_ms = 2000, .counts = "SUCCESS 3"};
    text = line(&done, 0);
    CHECK_STR("[####################] 100%  3/3  SUCCESS 3  elapsed 2s", text);
    free(text);
}

static void a_narrow_line_gives_up_parts_in_order_and_keeps_the_percentage_and_eta(void)
{
    dr_progress p = {.done = 120, .total = 300, .elapsed_ms = 65000, .counts = "SUCCESS 118  FAILED 2"};
    char *full = line(&p, 0);
    size_t full_len = strlen(full);
    free(full);
    /* Each width gets the fullest line that fits, and never more than the width. */
    for (size_t width = 1; width <= full_len + 2; width++) {
        char *text = line(&p, width);
        CHECK(strlen(text) <= width);
        free(text);
    }
    char *text = line(&p, 80); /* the bar shrinks first */
    CHECK_STR("[######.........]  40%  120/300  SUCCESS 118  FAILED 2  elapsed 1m05s  ETA 1m37s", text);
    free(text);
    text = line(&p, 60); /* then the counts go */
    CHECK_STR("[####......]  40%  120/300  elapsed 1m05s  ETA 1m37s", text);
    free(text);
    text = line(&p, 40); /* then the elapsed time */
    CHECK_STR("[####......]  40%  120/300  ETA 1m37s", text);
    free(text);
    text = line(&p, 30); /* then the bar */
    CHECK_STR(" 40%  120/300  ETA 1m37s", text);
    free(text);
    text = line(&p, 16); /* then done/total */
    CHECK_STR(" 40%  ETA 1m37s", text);
    free(text);
    text = line(&p, 8); /* and last, a cut */
    CHECK_STR(" 40%  ET", text);
    free(text);
}

static void the_width_is_the_terminals_else_columns_else_80(void)
{
    /* A pipe is no terminal: COLUMNS when it is a number, else 80. */
    int fds[2];
    CHECK_INT(0, pipe(fds));
    setenv("COLUMNS", "132", 1);
    CHECK_INT(132, dr_terminal_width(fds[1]));
    setenv("COLUMNS", "wide", 1);
    CHECK_INT(80, dr_terminal_width(fds[1]));
    setenv("COLUMNS", "0", 1);
    CHECK_INT(80, dr_terminal_width(fds[1]));
    unsetenv("COLUMNS");
    CHECK_INT(80, dr_terminal_width(fds[1]));
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    the_eta_is_the_time_left_at_the_rate_so_far();
    the_percentage_rounds_down_so_100_means_all_done();
    durations_read_as_people_say_them();
    a_wide_line_has_every_part();
    a_narrow_line_gives_up_parts_in_order_and_keeps_the_percentage_and_eta();
    the_width_is_the_terminals_else_columns_else_80();
    return check_done("progress");
}
