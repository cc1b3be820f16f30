/*
 * check.h - the unit tests' few assertions.  A failing check prints what it
 * expected and what it got, with the file and line, and the test goes on so
 * one run shows every failure; check_done() sets the exit code.
 */
#ifndef DROVER_CHECK_H
#define DROVER_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        check_count++;                                                                                                 \
        if (!(cond)) {                                                                                                 \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);                                         \
        }                                                                                                              \
    } while (0)

#define CHECK_INT(expected, actual)                                                                                    \
    do {                                                                                                               \
        long long check_e = (long long)(expected), check_a = (long long)(actual);                                      \
        check_count++;                                                                                                 \
        if (check_e != check_a) {                                                                                      \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: FAILED: %s: expected %lld, got %lld\n", __FILE__, __LINE__, #actual, check_e,      \
                    check_a);                                                                                          \
        }                                                                                                              \
    } while (0)

#define CHECK_STR(expected, actual)                                                                                    \
    do {                                                                                                               \
        const char *check_e = (expected), *check_a = (actual);                                                         \
        check_count++;                                                                                                 \
        if (!check_a || strcmp(check_e, check_a) != 0) {                                                               \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: FAILED: %s: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, #actual, check_e,  \
                    check_a ? check_a : "(null)");                                                                     \
        }                                                                                                              \
    } while (0)

/* actual contains the substring expected */
#define CHECK_CONTAINS(expected, actual)                                                                               \
    do {                                                                                                               \
        const char *check_e = (expected), *check_a = (actual);                                                         \
        check_count++;                                                                                                 \
        if (!check_a || !strstr(check_a, check_e)) {                                                                   \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: FAILED: %s: expected to contain \"%s\", got \"%s\"\n", __FILE__, __LINE__,         \
                    #actual, check_e, check_a ? check_a : "(null)");                                                   \
        }                                                                                                              \
    } while (0)

static inline int check_done(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
